import { randomBytes } from 'node:crypto';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixturesDir = fileURLToPath(new URL('./fixtures', import.meta.url));
export const fixtureConnectorsRoot = join(fixturesDir, 'connectors');
export const migrationsDir = fileURLToPath(new URL('../prisma/migrations', import.meta.url));

export function newSecretKey(encoding: 'base64' | 'hex' = 'base64'): string {
  return randomBytes(32).toString(encoding);
}

/** A private, writable copy of a fixture directory (tests edit specs and migrations). */
export async function copyDir(src: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-db-test-'));
  await cp(src, dir, { recursive: true });
  return dir;
}
