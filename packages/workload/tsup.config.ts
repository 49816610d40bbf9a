import { defineConfig } from 'tsup';

export default defineConfig({
  // `queue` and `types` are what launchers import: they must not pull in the database client.
  entry: ['src/index.ts', 'src/queue.ts', 'src/types.ts', 'src/testing.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
});
