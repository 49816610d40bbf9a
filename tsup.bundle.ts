import { defineConfig, type Options } from 'tsup';

/**
 * One self-contained ESM file per entry, every dependency inlined: a connector image copies
 * `dist/` and nothing else, and the process runtime (or a user's shell, for the CLI) starts it
 * without resolving node_modules. Bundled CommonJS dependencies call `require` on Node
 * builtins, which an ESM bundle only has through createRequire.
 */
export function selfContainedBundle(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: true,
    noExternal: [/.*/],
    splitting: false,
    banner: {
      js: "import { createRequire as __sluiceCreateRequire } from 'node:module'; const require = __sluiceCreateRequire(import.meta.url);",
    },
    esbuildOptions(options) {
      options.conditions = ['sluice-source'];
    },
    ...overrides,
  });
}
