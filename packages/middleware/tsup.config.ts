import { defineConfig } from 'tsup';

// Two builds: the CLI is one self-contained file (every dependency inlined) so the middleware
// image needs no node_modules; the library entry (helpers the launcher imports) stays small.
// Bundled CommonJS dependencies (pino, ajv) call `require` on Node builtins, which an ESM bundle
// only has through createRequire.
export default defineConfig([
  {
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: false,
    splitting: false,
    noExternal: [/.*/],
    // Workspace packages are bundled from their TypeScript sources, so the CLI never depends on
    // whether (or when) their dist/ was built.
    esbuildOptions(options) {
      options.conditions = ['sluice-source', 'node', 'import', 'module', 'default'];
      // Every workload starts a middleware: less source text to read and compile at each start.
      // Identifiers stay, so stack traces read without the source map.
      options.minifyWhitespace = true;
      options.minifySyntax = true;
    },
    banner: {
      js: "import { createRequire as __sluiceCreateRequire } from 'node:module'; const require = __sluiceCreateRequire(import.meta.url);",
    },
  },
  {
    // `./plan-support`: the launcher's helpers without the middleware's runtime dependencies.
    entry: { index: 'src/index.ts', 'plan-support': 'src/plan-support.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: false,
  },
]);
