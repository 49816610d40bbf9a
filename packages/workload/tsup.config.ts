import { defineConfig } from 'tsup';

export default defineConfig({
  // `queue` is what launchers import: it must not pull in the database client.
  entry: ['src/index.ts', 'src/queue.ts', 'src/testing.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
});
