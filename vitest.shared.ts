import { defineConfig, mergeConfig, type ViteUserConfig } from 'vitest/config';

// Workspace packages export `sluice-source` → src/*.ts so tests run against source
// without a build step; the `default` export (dist) is what Node loads at run time.
const conditions = ['sluice-source', 'node', 'import', 'module', 'default'];
// vitest hands the SSR conditions to its workers as Node `--conditions` flags. With `import`
// among them, CommonJS `require` inside `pg` loads pg-pool's ESM build and breaks, so the
// workers get our own condition only; Node's defaults cover the rest.
const serverConditions = ['sluice-source'];

export function sluiceVitest(overrides: ViteUserConfig = {}) {
  return mergeConfig(
    defineConfig({
      resolve: { conditions },
      ssr: { resolve: { conditions: serverConditions, externalConditions: serverConditions } },
      test: {
        environment: 'node',
        include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
        testTimeout: 30_000,
        hookTimeout: 60_000,
        pool: 'forks',
      },
    }),
    overrides,
  );
}
