import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', main: 'src/main.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  // Workspace packages are bundled, so the launcher runs from its own dist/ on any host; npm
  // dependencies (bullmq, dockerode, prom-client, …) stay external.
  // Bundled from their TypeScript sources (no build of theirs needed).
  noExternal: [/^@sluice\//],
  external: [/^(?!@sluice\/)[^./]/],
  esbuildOptions(options) {
    options.conditions = ['sluice-source'];
  },
});
