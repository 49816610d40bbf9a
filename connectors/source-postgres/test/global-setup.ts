import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Builds the connector with tsup, so tests spawn the real CLI (bin/source-faker.js). */
export default function setup(): void {
  execFileSync('npx', ['tsup', '--silent'], {
    cwd: join(dirname(fileURLToPath(import.meta.url)), '..'),
    stdio: 'inherit',
  });
}
