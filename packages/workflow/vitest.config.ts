import { sluiceVitest } from '../../vitest.shared';

const config = sluiceVitest();

// vitest passes ssr.resolve.conditions to the worker as Node `--conditions`; with `import`
// among them, CommonJS `require` inside `pg` loads pg-pool's ESM build and breaks.
if (config.ssr?.resolve) config.ssr.resolve.conditions = ['sluice-source'];

export default config;
