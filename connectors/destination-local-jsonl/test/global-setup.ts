import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Where the tests' own build of source-faker (their input) goes; see FAKER in the tests. */
export const FAKER_DIST = join(here, 'dist', 'source-faker');

/**
 * Builds this connector and a private copy of source-faker with tsup, so tests spawn real
 * CLIs. The private copy keeps these tests independent of source-faker's own dist/, which
 * other test runs rebuild concurrently.
 */
export default function setup(): void {
  execFileSync('npx', ['tsup', '--silent'], { cwd: join(here, '..'), stdio: 'inherit' });
  execFileSync('npx', ['tsup', '--silent', '--out-dir', FAKER_DIST], {
    cwd: join(here, '..', '..', 'source-faker'),
    stdio: 'inherit',
  });
}
