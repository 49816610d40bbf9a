import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync(
    process.execPath,
    [fileURLToPath(new URL('../scripts/generate.mjs', import.meta.url)), '--if-missing'],
    {
      stdio: 'inherit',
    },
  );
}
