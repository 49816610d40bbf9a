#!/usr/bin/env node
// `npm run bench -- NAME [args…]` runs bench/NAME.mjs (or NAME.ts through tsx) and passes
// its output through; each benchmark prints its figures as JSON lines at the end.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(here)
  .filter(
    (f) => /\.(mjs|ts)$/.test(f) && !f.startsWith('run.') && !f.startsWith('_') && !f.endsWith('.test.ts'),
  )
  .map((f) => f.replace(/\.(mjs|ts)$/, ''));

if (!name) {
  console.error(`usage: npm run bench -- NAME\navailable: ${available.join(', ')}`);
  process.exit(2);
}
const mjs = join(here, `${name}.mjs`);
const ts = join(here, `${name}.ts`);
let argv;
if (existsSync(mjs)) argv = [process.execPath, mjs];
else if (existsSync(ts)) argv = [process.execPath, '--import', 'tsx', ts];
else {
  console.error(`unknown benchmark "${name}"; available: ${available.join(', ')}`);
  process.exit(2);
}
const child = spawn(argv[0], [...argv.slice(1), ...rest], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
