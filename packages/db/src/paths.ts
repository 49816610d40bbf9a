import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// src/*.ts (vitest, tsx) and the bundled dist/*.js both sit one level below the package
// root, so the same relative resolution works in development and at run time.
export const packageRoot = dirname(dirname(fileURLToPath(import.meta.url)));
export const repoRoot = dirname(dirname(packageRoot));
export const defaultMigrationsDir = join(packageRoot, 'prisma', 'migrations');
export const defaultConnectorsRoot = join(repoRoot, 'connectors');
