import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NextConfig } from 'next';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Workspace packages are compiled from their TypeScript source into the server bundle (the
 * same `sluice-source` entry vitest and tsc use), so the web build needs no other package's
 * dist/ and sees one copy of each module.
 */
const workspaceSources: Record<string, string> = Object.fromEntries(
  ['api', 'db', 'shared', 'protocol', 'workload', 'workflow', 'platform'].map((name) => [
    `@sluice/${name}`,
    // Relative to this app's directory.
    `../../packages/${name}/src/index.ts`,
  ]),
);

const config: NextConfig = {
  // Loaded by Node at run time, not bundled: Prisma's runtime, the pg driver, pino's worker
  // threads and BullMQ's Lua scripts are found on disk relative to their own files.
  serverExternalPackages: [
    '@prisma/client',
    '@prisma/adapter-pg',
    'pg',
    'pino',
    'bullmq',
    'ioredis',
    'prom-client',
  ],
  outputFileTracingRoot: repoRoot,
  turbopack: { root: repoRoot, resolveAlias: workspaceSources },
  // `npm run typecheck` (tsc) checks the app; the build only compiles.
  typescript: { ignoreBuildErrors: true },
  poweredByHeader: false,
  reactStrictMode: true,
};

export default config;
