import { defineConfig } from 'tsup';

// ssh2's native crypto binding and cpu-features are optional: ssh2 falls back to its pure-JS
// implementation when requiring them fails, so leaving them out keeps dist/ one portable file.
const OPTIONAL_NATIVE = /(\.node$|^cpu-features$)/;

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  // One self-contained file: the connector image copies dist/ and nothing else, and the
  // process runtime starts it without resolving node_modules.
  noExternal: [/^(?!.*\.node$)(?!cpu-features$)/],
  external: [OPTIONAL_NATIVE],
  splitting: false,
  banner: {
    js: [
      "import { createRequire as __sluiceCreateRequire } from 'node:module';",
      "import { fileURLToPath as __sluiceFileURLToPath } from 'node:url';",
      "import { dirname as __sluiceDirname } from 'node:path';",
      'const require = __sluiceCreateRequire(import.meta.url);',
      // ssh2 (CommonJS) reads __dirname when it loads.
      'const __filename = __sluiceFileURLToPath(import.meta.url);',
      'const __dirname = __sluiceDirname(__filename);',
    ].join(' '),
  },
  esbuildOptions(options) {
    options.conditions = ['sluice-source'];
  },
});
