import { selfContainedBundle } from '../../tsup.bundle';

// ssh2's native crypto binding and cpu-features are optional: ssh2 falls back to its pure-JS
// implementation when requiring them fails, so leaving them out keeps dist/ one portable file.
export default selfContainedBundle({
  noExternal: [/^(?!.*\.node$)(?!cpu-features$)/],
  external: [/(\.node$|^cpu-features$)/],
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
});
