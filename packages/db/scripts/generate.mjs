#!/usr/bin/env node
// Runs `prisma generate` offline. Prisma's CLI insists on locating a schema engine binary
// before generating even though generation never runs it, and the engine's download host is
// unreachable here (install scripts are skipped on purpose), so we point it at a stub.
// `--if-missing` skips generation when the outputs exist and are newer than the schema.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = dirname(dirname(fileURLToPath(import.meta.url)));
const schema = join(pkgDir, 'prisma', 'schema.prisma');
const outputs = [join(pkgDir, 'src/generated/prisma/client.ts'), join(pkgDir, 'src/generated/dmmf.json')];

if (process.argv.includes('--if-missing')) {
  const schemaTime = statSync(schema).mtimeMs;
  if (outputs.every((f) => existsSync(f) && statSync(f).mtimeMs >= schemaTime)) process.exit(0);
}

const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js');
const result = spawnSync(process.execPath, [prismaCli, 'generate'], {
  cwd: pkgDir,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: join(pkgDir, 'scripts', 'schema-engine-stub.sh'),
    CHECKPOINT_DISABLE: '1',
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
  },
});
process.exit(result.status ?? 1);
