import { defineConfig } from 'tsup';

export default defineConfig({
  // `io` is what the middleware needs (connector stdio, plan parsing) without dockerode.
  entry: { index: 'src/index.ts', 'connector-io': 'src/connector-io.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
});
