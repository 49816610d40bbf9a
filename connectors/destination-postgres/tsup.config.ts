import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  // One self-contained file: the connector image copies dist/ and nothing else, and the
  // process runtime starts it without resolving node_modules.
  noExternal: [/.*/],
  splitting: false,
  banner: {
    js: "import { createRequire as __sluiceCreateRequire } from 'node:module'; const require = __sluiceCreateRequire(import.meta.url);",
  },
  esbuildOptions(options) {
    options.conditions = ['sluice-source'];
  },
});
