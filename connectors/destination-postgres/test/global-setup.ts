import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Where the tests' own build of source-faker (a socket-mode source) goes. */
export const FAKER_DIST = join(here, 'dist', 'source-faker');
/** The tests' own build of source-postgres, for the Postgres → Postgres pipe tests. */
export const SOURCE_PG_DIST = join(here, 'dist', 'source-postgres');
/** Written when source-postgres does not build: its tests then fail with this message. */
export const SOURCE_PG_BUILD_ERROR = join(here, 'dist', 'source-postgres.error');

/**
 * Builds this connector and a private copy of source-faker with tsup, so tests spawn real
 * CLIs; the private copy keeps them independent of source-faker's own dist/, which other test
 * runs rebuild concurrently.
 */
export default function setup(): void {
  execFileSync('npx', ['tsup', '--silent'], { cwd: join(here, '..'), stdio: 'inherit' });
  execFileSync('npx', ['tsup', '--silent', '--out-dir', FAKER_DIST], {
    cwd: join(here, '..', '..', 'source-faker'),
    stdio: 'inherit',
  });
  // source-postgres is another package: a failed build fails only the tests that use it.
  rmSync(SOURCE_PG_BUILD_ERROR, { force: true });
  try {
    execFileSync('npx', ['tsup', '--silent', '--out-dir', SOURCE_PG_DIST], {
      cwd: join(here, '..', '..', 'source-postgres'),
      stdio: 'pipe',
    });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    mkdirSync(dirname(SOURCE_PG_BUILD_ERROR), { recursive: true });
    writeFileSync(SOURCE_PG_BUILD_ERROR, e.stderr?.toString() || e.message);
  }
}
