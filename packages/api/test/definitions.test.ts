import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, createTestUser, startApiHarness } from '../src/testing/harness';
import {
  createWorkspaceWithUsers,
  expectTrpcError,
  SOURCE_FIXTURE,
  seedFixtureDefinitions,
  sourceCommand,
  sourceConfig,
} from './helpers';

let h: ApiHarness;
let defs: Awaited<ReturnType<typeof seedFixtureDefinitions>>;
let world: Awaited<ReturnType<typeof createWorkspaceWithUsers>>;
let root: Awaited<ReturnType<typeof createTestUser>>;

beforeAll(async () => {
  h = await startApiHarness();
  defs = await seedFixtureDefinitions(h.db);
  world = await createWorkspaceWithUsers(h.db, 'Defs');
  root = await createTestUser(h.db, { isInstanceAdmin: true });
});
afterAll(async () => {
  await h?.close();
});

describe('connector definitions', () => {
  it('lists built-in definitions and gets one with its spec', async () => {
    const c = h.client(world.reader.token);
    const all = await c.definition.list.query({ workspaceId: world.ws.id });
    expect(all.map((d) => d.name)).toEqual(expect.arrayContaining(['source-fixture', 'destination-fixture']));
    expect(all.every((d) => !('spec' in d))).toBe(true);
    const sources = await c.definition.list.query({ workspaceId: world.ws.id, kind: 'source' });
    expect(sources.every((d) => d.kind === 'source')).toBe(true);
    const one = await c.definition.get.query({ workspaceId: world.ws.id, definitionId: defs.sourceDef.id });
    expect(one).toMatchObject({ builtIn: true, runsAs: 'process', hasSpec: true });
    expect(one.spec?.connectionSpecification).toMatchObject({ required: ['host', 'port', 'password'] });
  });

  it('registers a custom image definition for the workspace, without a spec until it can run', async () => {
    const c = h.client(world.editor.token);
    const created = await c.definition.createCustom.mutate({
      workspaceId: world.ws.id,
      kind: 'source',
      displayName: 'Internal CRM',
      version: '1.2.0',
      image: 'acme/source-crm:1.2.0',
    });
    expect(created.definition).toMatchObject({
      custom: true,
      workspaceId: world.ws.id,
      runsAs: 'image',
      hasSpec: false,
      spec: null,
    });
    expect(created.definition.name).toMatch(/^custom-internal-crm-[0-9a-f]{8}$/);
    expect(created.specError).toMatch(/cannot run connector images/);
    // No spec, so no source can use it yet.
    await expectTrpcError(
      c.source.create.mutate({
        workspaceId: world.ws.id,
        definitionId: created.definition.id,
        name: 'crm',
        config: {},
      }),
      'PRECONDITION_FAILED',
      { message: /has no spec yet/ },
    );
    await expectTrpcError(
      c.definition.refreshSpec.mutate({ workspaceId: world.ws.id, definitionId: created.definition.id }),
      'PRECONDITION_FAILED',
    );
    const updated = await c.definition.update.mutate({
      workspaceId: world.ws.id,
      definitionId: created.definition.id,
      version: '1.3.0',
      image: 'acme/source-crm:1.3.0',
    });
    expect(updated.definition).toMatchObject({ version: '1.3.0', image: 'acme/source-crm:1.3.0' });

    // Other workspaces do not see it.
    const other = await createWorkspaceWithUsers(h.db, 'Other');
    const theirs = await h.client(other.admin.token).definition.list.query({ workspaceId: other.ws.id });
    expect(theirs.map((d) => d.id)).not.toContain(created.definition.id);
    await expectTrpcError(
      h
        .client(other.admin.token)
        .definition.get.query({ workspaceId: other.ws.id, definitionId: created.definition.id }),
      'NOT_FOUND',
    );

    await expectTrpcError(
      h.client(world.reader.token).definition.createCustom.mutate({
        workspaceId: world.ws.id,
        kind: 'source',
        displayName: 'x',
        version: '1',
        image: 'acme/x:1',
      }),
      'FORBIDDEN',
    );
    await expectTrpcError(
      c.definition.createCustom.mutate({
        workspaceId: world.ws.id,
        kind: 'source',
        displayName: 'x',
        version: '1',
        image: 'Not An Image',
      }),
      'BAD_REQUEST',
      { fieldPath: 'image' },
    );
    await expect(
      c.definition.delete.mutate({ workspaceId: world.ws.id, definitionId: created.definition.id }),
    ).resolves.toMatchObject({
      deleted: true,
    });
    await expectTrpcError(
      c.definition.get.query({ workspaceId: world.ws.id, definitionId: created.definition.id }),
      'NOT_FOUND',
    );
  });

  it('lets only instance admins register a definition by command, fetching its spec by running it', async () => {
    const input = {
      workspaceId: world.ws.id,
      kind: 'source' as const,
      displayName: 'Local fixture',
      version: '0.2.0',
      command: sourceCommand,
    };
    await expectTrpcError(h.client(world.admin.token).definition.createCommand.mutate(input), 'FORBIDDEN', {
      message: /instance administrators/,
    });
    // Editors cannot smuggle a command through update either.
    const custom = await h.client(world.editor.token).definition.createCustom.mutate({
      workspaceId: world.ws.id,
      kind: 'source',
      displayName: 'Smuggler',
      version: '1',
      image: 'acme/smuggler:1',
    });
    await expectTrpcError(
      h.client(world.editor.token).definition.update.mutate({
        workspaceId: world.ws.id,
        definitionId: custom.definition.id,
        command: ['/bin/sh', '-c', 'id'],
      }),
      'FORBIDDEN',
      { fieldPath: 'command' },
    );

    const created = await h.client(root.token).definition.createCommand.mutate(input);
    expect(created.definition).toMatchObject({
      runsAs: 'process',
      command: sourceCommand,
      hasSpec: true,
      workspaceId: world.ws.id,
    });
    expect(created.definition.image).toBe('sluice/local-fixture:0.2.0');
    // The workspace can use it like any other.
    const source = await h.client(world.editor.token).source.create.mutate({
      workspaceId: world.ws.id,
      definitionId: created.definition.id,
      name: 'via command',
      config: sourceConfig(),
    });
    await expect(
      h.client(world.editor.token).source.check.mutate({ sourceId: source.id }),
    ).resolves.toMatchObject({
      status: 'succeeded',
    });
    // But editors cannot change or delete it: it runs a program on the platform's hosts.
    await expectTrpcError(
      h.client(world.admin.token).definition.update.mutate({
        workspaceId: world.ws.id,
        definitionId: created.definition.id,
        version: '9',
      }),
      'FORBIDDEN',
    );
    // It is in use, so even an instance admin cannot delete it yet.
    await expectTrpcError(
      h
        .client(root.token)
        .definition.delete.mutate({ workspaceId: world.ws.id, definitionId: created.definition.id }),
      'CONFLICT',
    );
    await expect(
      h
        .client(root.token)
        .definition.refreshSpec.mutate({ workspaceId: world.ws.id, definitionId: created.definition.id }),
    ).resolves.toMatchObject({ hasSpec: true });

    await expectTrpcError(
      h.client(root.token).definition.createCommand.mutate({ ...input, command: ['relative/path'] }),
      'BAD_REQUEST',
      { fieldPath: 'command' },
    );
    await expectTrpcError(
      h.client(root.token).definition.createCommand.mutate({
        ...input,
        command: [process.execPath, `${SOURCE_FIXTURE}.missing`],
      }),
      'BAD_REQUEST',
      { message: /spec could not be read/ },
    );
    // Instance-wide (no workspace): visible to every workspace.
    const global = await h
      .client(root.token)
      .definition.createCommand.mutate({ ...input, workspaceId: undefined, displayName: 'Shared' });
    const other = await createWorkspaceWithUsers(h.db, 'Sees shared');
    const visible = await h.client(other.reader.token).definition.list.query({ workspaceId: other.ws.id });
    expect(visible.map((d) => d.id)).toContain(global.definition.id);
  });

  it('refuses to change built-in definitions', async () => {
    await expectTrpcError(
      h.client(root.token).definition.update.mutate({
        workspaceId: world.ws.id,
        definitionId: defs.sourceDef.id,
        version: '2',
      }),
      'FORBIDDEN',
      { message: /built in/ },
    );
    await expectTrpcError(
      h
        .client(root.token)
        .definition.delete.mutate({ workspaceId: world.ws.id, definitionId: defs.sourceDef.id }),
      'FORBIDDEN',
    );
  });
});
