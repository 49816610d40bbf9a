import { defineConfig } from 'tsup';

export default defineConfig({
  // main.ts is the `sluice-worker` bin; index.ts what tests, the quickstart and the web app import.
  entry: ['src/index.ts', 'src/main.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
});
