import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The tests run the bundled `sluice` (bin/sluice.js → dist/index.js), as users do: build it first. */
export default function setup() {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(process.execPath, [path.join(dir, '../../node_modules/tsup/dist/cli-default.js')], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
