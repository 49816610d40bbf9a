import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../src/errors';
import type { ConnectionOrchestrator } from '../src/orchestrator';
import { type ApiHarness, startApiHarness } from '../src/testing/harness';
import type { StreamDescriptor } from '../src/validation/catalog';
import {
  createPipeline,
  createWorkspaceWithUsers,
  expectTrpcError,
  seedFixtureDefinitions,
  sourceConfig,
} from './helpers';

/** Sluice's namespace placeholders, spelled without tripping the template-string lint. */
const RAW_FORMAT = '$' + '{SOURCE_NAMESPACE}_raw';
const BAD_FORMAT = '$' + '{NOPE}_x';
/** createPipeline's choices with `events` no longer synced. */
const usersOnly = {
  streams: [
    {
      stream: { name: 'users' },
      syncMode: 'incremental' as const,
      destinationSyncMode: 'append_dedup' as const,
    },
    {
      stream: { name: 'events' },
      selected: false,
      syncMode: 'full_refresh' as const,
      destinationSyncMode: 'overwrite' as const,
    },
  ],
};

/** A scheduler that records what the API asked of it (the worker implements the real one). */
class RecordingOrchestrator implements ConnectionOrchestrator {
  calls: Array<[string, string, StreamDescriptor[]?]> = [];
  failLifecycle = false;
  #job = 0;
  async #lifecycle(name: string, id: string) {
    this.calls.push([name, id]);
    if (this.failLifecycle) throw new Error('redis is down');
  }
  created = (id: string) => this.#lifecycle('created', id);
  updated = (id: string) => this.#lifecycle('updated', id);
  enabled = (id: string) => this.#lifecycle('enabled', id);
  disabled = (id: string) => this.#lifecycle('disabled', id);
  deleted = (id: string) => this.#lifecycle('deleted', id);
  async syncNow(id: string) {
    this.calls.push(['syncNow', id]);
    return { jobId: `job-${++this.#job}` };
  }
  async cancel(id: string) {
    this.calls.push(['cancel', id]);
    if (id === 'busy') throw new ApiError('CONFLICT', 'nothing');
    return { jobId: null };
  }
  async reset(id: string, streams?: StreamDescriptor[]) {
    this.calls.push(['reset', id, streams]);
    return { jobId: `job-${++this.#job}` };
  }
}

let h: ApiHarness;
let bare: ApiHarness;
const orchestrator = new RecordingOrchestrator();
let world: Awaited<ReturnType<typeof createWorkspaceWithUsers>>;
let defIds: { sourceDefId: string; destinationDefId: string };

beforeAll(async () => {
  h = await startApiHarness({ deps: { connections: orchestrator } });
  const defs = await seedFixtureDefinitions(h.db);
  defIds = { sourceDefId: defs.sourceDef.id, destinationDefId: defs.destinationDef.id };
  world = await createWorkspaceWithUsers(h.db, 'Conn');
});
afterAll(async () => {
  await h?.close();
  await bare?.close();
});

describe('connections', () => {
  it('creates a connection with validated stream choices and defaults filled in', async () => {
    const { connection, discovered } = await createPipeline(h, world.editor.token, world.ws.id, defIds);
    expect(connection).toMatchObject({
      status: 'active',
      name: 'Fixture DB → Lake',
      sourceCatalogId: discovered.catalogId,
      namespaceDefinition: 'destination',
      schedule: { type: 'manual' },
      nonBreakingChangesPreference: 'ignore',
      breakingChange: false,
      schemaChange: null,
    });
    const users = connection.catalog.streams.find((s) => s.stream.name === 'users');
    // The source's default cursor and its source-defined key were filled in.
    expect(users).toMatchObject({ selected: true, cursorField: ['updated_at'], primaryKey: [['id']] });
    expect(orchestrator.calls).toContainEqual(['created', connection.id]);
  });

  it('fills every stream with default modes when no catalog is given', async () => {
    const c = h.client(world.editor.token);
    const { source, destination } = await createPipeline(h, world.editor.token, world.ws.id, defIds);
    const conn = await c.connection.create.mutate({
      workspaceId: world.ws.id,
      sourceId: source.id,
      destinationId: destination.id,
      name: 'all streams',
    });
    expect(conn.catalog.streams).toEqual([
      {
        stream: { name: 'users' },
        selected: true,
        syncMode: 'incremental',
        destinationSyncMode: 'append_dedup',
        cursorField: ['updated_at'],
        primaryKey: [['id']],
      },
      {
        stream: { name: 'events' },
        selected: true,
        syncMode: 'full_refresh',
        destinationSyncMode: 'overwrite',
      },
      {
        stream: { name: 'orders', namespace: 'shop' },
        selected: true,
        syncMode: 'full_refresh',
        destinationSyncMode: 'overwrite',
      },
    ]);
  });

  it('refuses bad catalog choices, naming the field', async () => {
    const c = h.client(world.editor.token);
    const { source, destination } = await createPipeline(h, world.editor.token, world.ws.id, defIds);
    const create = (streams: unknown[]) =>
      c.connection.create.mutate({
        workspaceId: world.ws.id,
        sourceId: source.id,
        destinationId: destination.id,
        // biome-ignore lint/suspicious/noExplicitAny: deliberately invalid input
        catalog: { streams: streams as any },
      });
    const users = { stream: { name: 'users' } };
    await expectTrpcError(
      create([{ stream: { name: 'nope' }, syncMode: 'full_refresh', destinationSyncMode: 'append' }]),
      'BAD_REQUEST',
      { fieldPath: 'catalog.streams[0].stream.name', message: /not in the source's discovered catalog/ },
    );
    await expectTrpcError(
      create([{ stream: { name: 'events' }, syncMode: 'incremental', destinationSyncMode: 'append' }]),
      'BAD_REQUEST',
      { fieldPath: 'catalog.streams[0].syncMode', message: /does not support incremental/ },
    );
    await expectTrpcError(
      create([{ stream: { name: 'events' }, syncMode: 'full_refresh', destinationSyncMode: 'append_dedup' }]),
      'BAD_REQUEST',
      { fieldPath: 'catalog.streams[0].primaryKey', message: /needs a primary key/ },
    );
    await expectTrpcError(
      create([{ stream: { name: 'events' }, syncMode: 'full_refresh', destinationSyncMode: 'soft_delete' }]),
      'BAD_REQUEST',
      {
        fieldPath: 'catalog.streams[0].destinationSyncMode',
        message: /destination does not support soft_delete/,
      },
    );
    await expectTrpcError(
      create([{ ...users, syncMode: 'incremental', destinationSyncMode: 'append', cursorField: ['nope'] }]),
      'BAD_REQUEST',
      { fieldPath: 'catalog.streams[0].cursorField', message: /cursor field nope is not in the schema/ },
    );
    await expectTrpcError(
      create([
        { ...users, syncMode: 'incremental', destinationSyncMode: 'append', cursorField: ['address', 'zip'] },
      ]),
      'BAD_REQUEST',
      { fieldPath: 'catalog.streams[0].cursorField' },
    );
    await expectTrpcError(
      create([{ ...users, syncMode: 'full_refresh', destinationSyncMode: 'append', primaryKey: [['name']] }]),
      'BAD_REQUEST',
      { fieldPath: 'catalog.streams[0].primaryKey', message: /source defines the primary key/ },
    );
    await expectTrpcError(
      create([
        {
          stream: { name: 'events' },
          syncMode: 'full_refresh',
          destinationSyncMode: 'append',
          primaryKey: [['uuid']],
        },
      ]),
      'BAD_REQUEST',
      { fieldPath: 'catalog.streams[0].primaryKey[0]', message: /primary key field uuid/ },
    );
    await expectTrpcError(
      create([
        {
          ...users,
          syncMode: 'full_refresh',
          destinationSyncMode: 'append',
          selectedFields: ['id', 'ghost'],
        },
      ]),
      'BAD_REQUEST',
      { fieldPath: 'catalog.streams[0].selectedFields[1]', message: /field ghost is not in the schema/ },
    );
    await expectTrpcError(
      create([
        {
          ...users,
          syncMode: 'incremental',
          destinationSyncMode: 'append_dedup',
          selectedFields: ['id', 'name'],
        },
      ]),
      'BAD_REQUEST',
      { fieldPath: 'catalog.streams[0].selectedFields', message: /updated_at is the cursor/ },
    );
    await expectTrpcError(
      create([
        {
          stream: { name: 'orders', namespace: 'shop' },
          syncMode: 'incremental',
          destinationSyncMode: 'append',
          cursorField: ['total'],
        },
      ]),
      'BAD_REQUEST',
      { fieldPath: 'catalog.streams[0].cursorField', message: /source defines the cursor/ },
    );
    await expectTrpcError(
      create([
        { stream: { name: 'events' }, syncMode: 'full_refresh', destinationSyncMode: 'append' },
        { stream: { name: 'events' }, syncMode: 'full_refresh', destinationSyncMode: 'append' },
      ]),
      'BAD_REQUEST',
      { fieldPath: 'catalog.streams[1].stream', message: /listed twice/ },
    );
    await expectTrpcError(
      create([{ ...users, syncMode: 'sideways', destinationSyncMode: 'append' }]),
      'BAD_REQUEST',
      {
        fieldPath: 'catalog.streams[0].syncMode',
      },
    );
    // Valid: a source-defined cursor needs no cursorField, and unselected streams are not checked further.
    const ok = await create([
      {
        stream: { name: 'orders', namespace: 'shop' },
        syncMode: 'incremental',
        destinationSyncMode: 'append',
      },
      {
        stream: { name: 'events' },
        selected: false,
        syncMode: 'full_refresh',
        destinationSyncMode: 'append_dedup',
      },
    ]);
    expect(ok.catalog.streams[0]).toMatchObject({ cursorField: ['created_at'] });
  });

  it('validates schedules (Quartz cron with time zone) and namespaces', async () => {
    const c = h.client(world.editor.token);
    const { connection } = await createPipeline(h, world.editor.token, world.ws.id, defIds);
    const update = (patch: Record<string, unknown>) =>
      c.connection.update.mutate({ connectionId: connection.id, ...patch });
    await expect(
      update({ schedule: { type: 'cron', expression: '0 0 12 * * ?', timeZone: 'Europe/Paris' } }),
    ).resolves.toMatchObject({
      schedule: { type: 'cron', expression: '0 0 12 * * ?', timeZone: 'Europe/Paris' },
    });
    await expectTrpcError(
      update({ schedule: { type: 'cron', expression: '0 0 12 * * ?', timeZone: 'Mars/Olympus' } }),
      'BAD_REQUEST',
      {
        fieldPath: 'schedule.timeZone',
      },
    );
    await expectTrpcError(update({ schedule: { type: 'cron', expression: '0 0 25 * * ?' } }), 'BAD_REQUEST', {
      fieldPath: 'schedule.expression',
    });
    await expectTrpcError(update({ schedule: { type: 'cron', expression: '0 0 12 * * *' } }), 'BAD_REQUEST', {
      message: /exactly one of day-of-month and day-of-week/,
    });
    await expectTrpcError(update({ schedule: { type: 'cron', expression: '* * * * * ?' } }), 'BAD_REQUEST', {
      message: /seconds field must be a single number/,
    });
    await expect(update({ schedule: { type: 'basic', units: 6, timeUnit: 'hours' } })).resolves.toMatchObject(
      {
        schedule: { type: 'basic', units: 6, timeUnit: 'hours' },
      },
    );
    await expectTrpcError(
      update({ schedule: { type: 'basic', units: 0, timeUnit: 'hours' } }),
      'BAD_REQUEST',
      {
        fieldPath: 'schedule.units',
      },
    );
    await expectTrpcError(update({ namespaceDefinition: 'customformat' }), 'BAD_REQUEST', {
      fieldPath: 'namespaceFormat',
    });
    await expectTrpcError(
      update({ namespaceDefinition: 'customformat', namespaceFormat: BAD_FORMAT }),
      'BAD_REQUEST',
      {
        fieldPath: 'namespaceFormat',
      },
    );
    const custom = await update({
      namespaceDefinition: 'customformat',
      namespaceFormat: RAW_FORMAT,
      prefix: 'fx_',
    });
    expect(custom).toMatchObject({
      namespaceDefinition: 'customformat',
      namespaceFormat: RAW_FORMAT,
      prefix: 'fx_',
    });
    const tuned = await update({
      resourceOverrides: { source: { memoryLimitMb: 512 } },
      nonBreakingChangesPreference: 'propagate_columns',
      notifySchemaChanges: false,
      name: 'renamed',
    });
    expect(tuned).toMatchObject({
      name: 'renamed',
      resourceOverrides: { source: { memoryLimitMb: 512 } },
      nonBreakingChangesPreference: 'propagate_columns',
      notifySchemaChanges: false,
    });
    await expectTrpcError(update({ resourceOverrides: { source: { memoryLimitMb: -1 } } }), 'BAD_REQUEST');
    expect(
      orchestrator.calls.filter(([n, id]) => n === 'updated' && id === connection.id).length,
    ).toBeGreaterThan(3);
  });

  it('enables, disables, deletes, and forwards sync/cancel/reset to the scheduler', async () => {
    const c = h.client(world.editor.token);
    const { connection } = await createPipeline(h, world.editor.token, world.ws.id, defIds);
    await expect(c.connection.disable.mutate({ connectionId: connection.id })).resolves.toMatchObject({
      status: 'inactive',
    });
    await expect(c.connection.enable.mutate({ connectionId: connection.id })).resolves.toMatchObject({
      status: 'active',
    });
    expect(orchestrator.calls).toContainEqual(['disabled', connection.id]);
    expect(orchestrator.calls).toContainEqual(['enabled', connection.id]);

    await expect(c.connection.syncNow.mutate({ connectionId: connection.id })).resolves.toMatchObject({
      jobId: expect.any(String),
    });
    await expect(c.connection.cancel.mutate({ connectionId: connection.id })).resolves.toEqual({
      jobId: null,
    });
    await c.connection.reset.mutate({ connectionId: connection.id, streams: [{ name: 'users' }] });
    expect(orchestrator.calls).toContainEqual(['reset', connection.id, [{ name: 'users' }]]);
    await expectTrpcError(
      c.connection.reset.mutate({ connectionId: connection.id, streams: [{ name: 'orders' }] }),
      'BAD_REQUEST',
      {
        fieldPath: 'streams[0]',
      },
    );
    const reader = h.client(world.reader.token);
    await expectTrpcError(reader.connection.syncNow.mutate({ connectionId: connection.id }), 'FORBIDDEN');

    // A failing lifecycle notification does not fail the request: Postgres holds the truth.
    orchestrator.failLifecycle = true;
    try {
      await expect(
        c.connection.update.mutate({ connectionId: connection.id, prefix: 'p_' }),
      ).resolves.toMatchObject({ prefix: 'p_' });
    } finally {
      orchestrator.failLifecycle = false;
    }

    await expect(c.connection.delete.mutate({ connectionId: connection.id })).resolves.toMatchObject({
      deleted: true,
    });
    expect(orchestrator.calls).toContainEqual(['deleted', connection.id]);
    await expectTrpcError(c.connection.get.query({ connectionId: connection.id }), 'NOT_FOUND');
    const row = await h.db.connection.findUniqueOrThrow({ where: { id: connection.id } });
    expect(row.status).toBe('deprecated');
  });

  it('answers PRECONDITION_FAILED for sync/cancel/reset when no scheduler is configured', async () => {
    bare = await startApiHarness();
    const defs = await seedFixtureDefinitions(bare.db);
    const w = await createWorkspaceWithUsers(bare.db, 'Bare');
    const { connection } = await createPipeline(bare, w.editor.token, w.ws.id, {
      sourceDefId: defs.sourceDef.id,
      destinationDefId: defs.destinationDef.id,
    });
    const c = bare.client(w.editor.token);
    for (const call of [
      () => c.connection.syncNow.mutate({ connectionId: connection.id }),
      () => c.connection.cancel.mutate({ connectionId: connection.id }),
      () => c.connection.reset.mutate({ connectionId: connection.id }),
    ]) {
      await expectTrpcError(call(), 'PRECONDITION_FAILED', { message: /no scheduler configured/ });
    }
    // Lifecycle changes still work: the worker reconciles from Postgres when it starts.
    await expect(c.connection.disable.mutate({ connectionId: connection.id })).resolves.toMatchObject({
      status: 'inactive',
    });
  });

  it('records a non-breaking schema change for review and applies it', async () => {
    const c = h.client(world.editor.token);
    const { source, connection } = await createPipeline(h, world.editor.token, world.ws.id, defIds);
    // `events` goes away in version 2: removing a stream nobody syncs breaks nothing.
    await c.connection.update.mutate({ connectionId: connection.id, catalog: usersOnly });
    await c.source.update.mutate({ sourceId: source.id, config: { ...source.config, schema_version: 2 } });
    const discovered = await c.source.discover.mutate({ sourceId: source.id });
    expect(discovered.schemaChanges).toContainEqual({
      connectionId: connection.id,
      action: 'recorded',
      breaking: false,
    });

    const review = await c.connection.schemaChange.query({ connectionId: connection.id });
    expect(review.breakingChange).toBe(false);
    expect(review.schemaChange).toMatchObject({ catalogId: discovered.catalogId, breaking: false });
    const streams = review.schemaChange!.streams;
    expect(streams).toContainEqual({ stream: { name: 'invoices' }, change: 'added', fields: [] });
    expect(streams).toContainEqual({ stream: { name: 'events' }, change: 'removed', fields: [] });
    expect(streams.find((s) => s.stream.name === 'users')?.fields).toEqual(
      expect.arrayContaining([
        { path: ['phone'], change: 'added', breaking: false },
        { path: ['email'], change: 'removed', breaking: false },
      ]),
    );

    const applied = await c.connection.applySchemaChange.mutate({ connectionId: connection.id });
    expect(applied).toMatchObject({
      sourceCatalogId: discovered.catalogId,
      schemaChange: null,
      breakingChange: false,
    });
    expect(applied.catalog.streams.map((s) => [s.stream.name, s.selected])).toEqual([
      ['users', true],
      ['invoices', false],
      ['orders', false],
    ]);
    await expectTrpcError(
      c.connection.applySchemaChange.mutate({ connectionId: connection.id }),
      'PRECONDITION_FAILED',
    );
  });

  it('propagates non-breaking changes or disables the connection, per its preference', async () => {
    const c = h.client(world.editor.token);
    const { source, connection } = await createPipeline(h, world.editor.token, world.ws.id, defIds);
    const other = await c.connection.create.mutate({
      workspaceId: world.ws.id,
      sourceId: source.id,
      destinationId: connection.destinationId,
      catalog: {
        streams: [{ stream: { name: 'users' }, syncMode: 'full_refresh', destinationSyncMode: 'append' }],
      },
      nonBreakingChangesPreference: 'disable',
    });
    // This one syncs `events`, which version 2 drops: breaking, so nothing is propagated to it.
    const third = await c.connection.create.mutate({
      workspaceId: world.ws.id,
      sourceId: source.id,
      destinationId: connection.destinationId,
      catalog: {
        streams: [{ stream: { name: 'events' }, syncMode: 'full_refresh', destinationSyncMode: 'append' }],
      },
      nonBreakingChangesPreference: 'propagate_fully',
    });
    await c.connection.update.mutate({
      connectionId: connection.id,
      nonBreakingChangesPreference: 'propagate_fully',
      catalog: usersOnly,
    });
    await c.source.update.mutate({ sourceId: source.id, config: { ...source.config, schema_version: 2 } });
    const discovered = await c.source.discover.mutate({ sourceId: source.id });
    expect(discovered.schemaChanges).toEqual(
      expect.arrayContaining([
        { connectionId: connection.id, action: 'propagated', breaking: false },
        { connectionId: other.id, action: 'disabled', breaking: false },
        { connectionId: third.id, action: 'recorded', breaking: true },
      ]),
    );
    const held = await c.connection.get.query({ connectionId: third.id });
    expect(held).toMatchObject({ status: 'active', breakingChange: true });
    expect(held.schemaChange?.streams).toContainEqual({
      stream: { name: 'events' },
      change: 'removed',
      fields: [],
      breakingReason: 'the selected stream was removed from the source',
    });
    const propagated = await c.connection.get.query({ connectionId: connection.id });
    expect(propagated.sourceCatalogId).toBe(discovered.catalogId);
    expect(propagated.schemaChange).toBeNull();
    expect(propagated.catalog.streams.find((s) => s.stream.name === 'invoices')).toMatchObject({
      selected: true,
    });
    const disabled = await c.connection.get.query({ connectionId: other.id });
    expect(disabled).toMatchObject({ status: 'inactive', breakingChange: false });
    expect(disabled.schemaChange).not.toBeNull();
    expect(orchestrator.calls).toContainEqual(['disabled', other.id]);
  });

  it('holds a breaking change (cursor removed) until new choices are applied', async () => {
    const c = h.client(world.editor.token);
    const { source, connection } = await createPipeline(h, world.editor.token, world.ws.id, defIds);
    await c.connection.update.mutate({
      connectionId: connection.id,
      nonBreakingChangesPreference: 'propagate_fully',
    });
    await c.source.update.mutate({ sourceId: source.id, config: { ...source.config, schema_version: 3 } });
    const discovered = await c.source.discover.mutate({ sourceId: source.id });
    expect(discovered.schemaChanges).toContainEqual({
      connectionId: connection.id,
      action: 'recorded',
      breaking: true,
    });
    const held = await c.connection.get.query({ connectionId: connection.id });
    expect(held.breakingChange).toBe(true);
    expect(held.schemaChange?.streams.find((s) => s.stream.name === 'users')).toMatchObject({
      breakingReason: 'the cursor field updated_at was removed',
      fields: expect.arrayContaining([{ path: ['updated_at'], change: 'removed', breaking: true }]),
    });
    await expectTrpcError(
      c.connection.syncNow.mutate({ connectionId: connection.id }),
      'PRECONDITION_FAILED',
      {
        message: /breaking schema change/,
      },
    );
    await c.connection.disable.mutate({ connectionId: connection.id });
    await expectTrpcError(c.connection.enable.mutate({ connectionId: connection.id }), 'PRECONDITION_FAILED');
    await expectTrpcError(
      c.connection.applySchemaChange.mutate({ connectionId: connection.id }),
      'BAD_REQUEST',
      {
        fieldPath: 'catalog',
        message: /cursor field updated_at is not in the schema/,
      },
    );
    const fixed = await c.connection.applySchemaChange.mutate({
      connectionId: connection.id,
      catalog: {
        streams: [{ stream: { name: 'users' }, syncMode: 'full_refresh', destinationSyncMode: 'overwrite' }],
      },
    });
    expect(fixed).toMatchObject({
      breakingChange: false,
      schemaChange: null,
      sourceCatalogId: discovered.catalogId,
    });
    await expect(c.connection.enable.mutate({ connectionId: connection.id })).resolves.toMatchObject({
      status: 'active',
    });
  });

  it('reads committed state', async () => {
    const c = h.client(world.reader.token);
    const { connection } = await createPipeline(h, world.editor.token, world.ws.id, defIds);
    await expect(c.connection.state.query({ connectionId: connection.id })).resolves.toMatchObject({
      type: null,
      streams: [],
    });
    await h.db.connectionState.create({
      data: {
        connectionId: connection.id,
        type: 'STREAM',
        streamName: 'users',
        state: { cursor: '2024-01-01' },
      },
    });
    await expect(c.connection.state.query({ connectionId: connection.id })).resolves.toMatchObject({
      type: 'STREAM',
      streams: [{ name: 'users', namespace: null, state: { cursor: '2024-01-01' } }],
    });
  });

  it('lists connections of a workspace, filtered by source', async () => {
    const c = h.client(world.reader.token);
    const all = await c.connection.list.query({ workspaceId: world.ws.id });
    expect(all.length).toBeGreaterThan(3);
    const one = all[0]!;
    const bySource = await c.connection.list.query({ workspaceId: world.ws.id, sourceId: one.sourceId });
    expect(bySource.every((x) => x.sourceId === one.sourceId)).toBe(true);
    expect(sourceConfig).toBeTypeOf('function');
  });
});
