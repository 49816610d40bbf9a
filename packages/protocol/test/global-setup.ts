import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';

const here = dirname(fileURLToPath(import.meta.url));

/** Builds the fixture connectors with tsup, so tests spawn real CLIs. */
export default async function setup(): Promise<void> {
  await build({
    entry: {
      'test-source': join(here, 'fixtures', 'test-source.ts'),
      'test-destination': join(here, 'fixtures', 'test-destination.ts'),
    },
    outDir: join(here, 'fixtures', 'dist'),
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    clean: true,
    silent: true,
    config: false,
  });
}
