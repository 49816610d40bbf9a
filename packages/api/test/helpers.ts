import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db, Prisma } from '@sluice/db';
import { TRPCClientError } from '@trpc/client';
import { expect } from 'vitest';
import { LocalConnectorRunner } from '../src/runner/local';
import { SecretBox } from '../src/secrets';
import { type ApiHarness, createTestUser } from '../src/testing/harness';

const here = dirname(fileURLToPath(import.meta.url));
export const SOURCE_FIXTURE = join(here, 'fixtures', 'source.mjs');
export const DESTINATION_FIXTURE = join(here, 'fixtures', 'destination.mjs');
export const sourceCommand = [process.execPath, SOURCE_FIXTURE];
export const destinationCommand = [process.execPath, DESTINATION_FIXTURE];

/** Seeds the two fixture connectors as built-in definitions, the way the bootloader does. */
export async function seedFixtureDefinitions(db: Db) {
  const runner = new LocalConnectorRunner({ box: new SecretBox(Buffer.alloc(32, 1)) });
  const def = (name: string, kind: 'source' | 'destination', command: string[]) => ({
    id: 'seed',
    name,
    kind,
    version: '0.1.0',
    image: `sluice/${name}:0.1.0`,
    command,
    spec: null,
  });
  const [sourceSpec, destinationSpec] = await Promise.all([
    runner.spec(def('source-fixture', 'source', sourceCommand)),
    runner.spec(def('destination-fixture', 'destination', destinationCommand)),
  ]);
  const create = (name: string, kind: 'source' | 'destination', command: string[], spec: unknown) =>
    db.connectorDefinition.create({
      data: {
        name,
        displayName: name === 'source-fixture' ? 'Fixture source' : 'Fixture destination',
        kind,
        version: '0.1.0',
        image: `sluice/${name}:0.1.0`,
        command,
        spec: spec as Prisma.InputJsonObject,
        specFetchedAt: new Date(),
        builtIn: true,
      },
    });
  return {
    sourceDef: await create('source-fixture', 'source', sourceCommand, sourceSpec),
    destinationDef: await create('destination-fixture', 'destination', destinationCommand, destinationSpec),
  };
}

export async function createWorkspaceWithUsers(db: Db, name: string) {
  const ws = await db.workspace.create({
    data: {
      name,
      slug: `${name.toLowerCase()}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
    },
  });
  const admin = await createTestUser(db, { workspaceId: ws.id, role: 'admin' });
  const editor = await createTestUser(db, { workspaceId: ws.id, role: 'editor' });
  const reader = await createTestUser(db, { workspaceId: ws.id, role: 'reader' });
  return { ws, admin, editor, reader };
}

export const sourceConfig = (overrides: Record<string, unknown> = {}) => ({
  host: 'db.internal',
  port: 5432,
  password: 'fixture-password-1',
  ...overrides,
});

/** A workspace with a source (discovered), a destination and a connection, through the API. */
export async function createPipeline(
  h: ApiHarness,
  token: string,
  workspaceId: string,
  defs: { sourceDefId: string; destinationDefId: string },
) {
  const c = h.client(token);
  const source = await c.source.create.mutate({
    workspaceId,
    definitionId: defs.sourceDefId,
    name: 'Fixture DB',
    config: sourceConfig(),
  });
  const destination = await c.destination.create.mutate({
    workspaceId,
    definitionId: defs.destinationDefId,
    name: 'Lake',
    config: { path: '/data/lake', api_token: 'dest-token-123' },
  });
  const discovered = await c.source.discover.mutate({ sourceId: source.id });
  const connection = await c.connection.create.mutate({
    workspaceId,
    sourceId: source.id,
    destinationId: destination.id,
    catalog: {
      streams: [
        { stream: { name: 'users' }, syncMode: 'incremental', destinationSyncMode: 'append_dedup' },
        { stream: { name: 'events' }, syncMode: 'full_refresh', destinationSyncMode: 'overwrite' },
      ],
    },
  });
  return { source, destination, discovered, connection };
}

/** Asserts a tRPC call fails with the given code (and optionally field path / message). */
export async function expectTrpcError(
  promise: Promise<unknown>,
  code: string,
  extra: { fieldPath?: string; message?: RegExp } = {},
) {
  const err = await promise.then(
    () => {
      throw new Error(`expected ${code}, but the call succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  const e = err as unknown as { message: string; data?: { code?: string; fieldPath?: string } };
  expect(e.data?.code, e.message).toBe(code);
  if (extra.fieldPath !== undefined) expect(e.data?.fieldPath, e.message).toBe(extra.fieldPath);
  if (extra.message) expect(e.message).toMatch(extra.message);
  return e;
}
