import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_MASK, SecretBox } from '../src/secrets';
import { type ApiHarness, startApiHarness } from '../src/testing/harness';
import { createWorkspaceWithUsers, expectTrpcError, seedFixtureDefinitions, sourceConfig } from './helpers';

let h: ApiHarness;
let world: Awaited<ReturnType<typeof createWorkspaceWithUsers>>;
let defs: Awaited<ReturnType<typeof seedFixtureDefinitions>>;

beforeAll(async () => {
  h = await startApiHarness();
  defs = await seedFixtureDefinitions(h.db);
  world = await createWorkspaceWithUsers(h.db, 'Actors');
});
afterAll(async () => {
  await h?.close();
});

describe('sources and destinations', () => {
  it('creates, reads, lists, updates and deletes a source with its secrets masked', async () => {
    const c = h.client(world.editor.token);
    const created = await c.source.create.mutate({
      workspaceId: world.ws.id,
      definitionId: defs.sourceDef.id,
      name: 'Orders DB',
      config: sourceConfig({ tunnel: { mode: 'ssh', ssh_key: '-----BEGIN KEY-----' } }),
    });
    expect(created.config).toEqual({
      host: 'db.internal',
      port: 5432,
      password: SECRET_MASK,
      tunnel: { mode: 'ssh', ssh_key: SECRET_MASK },
    });
    expect(created.definition.name).toBe('source-fixture');

    const reader = h.client(world.reader.token);
    await expect(reader.source.get.query({ sourceId: created.id })).resolves.toMatchObject({
      name: 'Orders DB',
    });
    expect((await reader.source.list.query({ workspaceId: world.ws.id })).map((s) => s.id)).toContain(
      created.id,
    );

    const renamed = await c.source.update.mutate({
      sourceId: created.id,
      name: 'Orders replica',
      config: { ...created.config, host: 'replica.internal' },
    });
    expect(renamed).toMatchObject({
      name: 'Orders replica',
      config: { host: 'replica.internal', password: SECRET_MASK },
    });
    const row = await h.db.source.findUniqueOrThrow({ where: { id: created.id } });
    const stored = row.config as Record<string, string>;
    expect(SecretBox.isSealed(stored.password)).toBe(true);
    expect(h.deps.box.open(stored.password!)).toBe('fixture-password-1');

    await expectTrpcError(reader.source.update.mutate({ sourceId: created.id, name: 'x' }), 'FORBIDDEN');
    await expect(c.source.delete.mutate({ sourceId: created.id })).resolves.toMatchObject({ deleted: true });
    await expectTrpcError(c.source.get.query({ sourceId: created.id }), 'NOT_FOUND');
    expect((await c.source.list.query({ workspaceId: world.ws.id })).map((s) => s.id)).not.toContain(
      created.id,
    );
  });

  it('refuses configs that do not match the spec, naming the field path', async () => {
    const c = h.client(world.editor.token);
    const create = (config: Record<string, unknown>) =>
      c.source.create.mutate({
        workspaceId: world.ws.id,
        definitionId: defs.sourceDef.id,
        name: 'bad',
        config,
      });
    await expectTrpcError(create({ host: 'h', port: 1 }), 'BAD_REQUEST', {
      fieldPath: 'config.password',
      message: /config\.password: is required/,
    });
    await expectTrpcError(create(sourceConfig({ port: 'x' })), 'BAD_REQUEST', {
      fieldPath: 'config.port',
      message: /must be integer/,
    });
    await expectTrpcError(create(sourceConfig({ port: 70000 })), 'BAD_REQUEST', { fieldPath: 'config.port' });
    await expectTrpcError(create(sourceConfig({ unknown_option: true })), 'BAD_REQUEST', {
      fieldPath: 'config.unknown_option',
    });
    await expectTrpcError(create(sourceConfig({ tunnel: { mode: 'ssh' } })), 'BAD_REQUEST', {
      message: /tunnel/,
    });
    // A mask with no stored secret behind it is refused rather than stored as the literal string.
    await expectTrpcError(create(sourceConfig({ password: SECRET_MASK })), 'BAD_REQUEST', {
      fieldPath: 'config.password',
    });
    // A destination definition cannot make a source.
    await expectTrpcError(
      c.source.create.mutate({
        workspaceId: world.ws.id,
        definitionId: defs.destinationDef.id,
        name: 'x',
        config: {},
      }),
      'BAD_REQUEST',
      { fieldPath: 'definitionId' },
    );
    await expectTrpcError(
      c.destination.create.mutate({
        workspaceId: world.ws.id,
        definitionId: defs.destinationDef.id,
        name: 'x',
        config: { path: 'relative' },
      }),
      'BAD_REQUEST',
      { fieldPath: 'config.path' },
    );
  });

  it('runs check through the local runner as a check job with a log', async () => {
    const c = h.client(world.editor.token);
    const source = await c.source.create.mutate({
      workspaceId: world.ws.id,
      definitionId: defs.sourceDef.id,
      name: 'Checked',
      config: sourceConfig(),
    });
    const ok = await c.source.check.mutate({ sourceId: source.id });
    expect(ok).toMatchObject({ status: 'succeeded', jobStatus: 'succeeded' });
    const job = await c.job.get.query({ jobId: ok.jobId });
    expect(job).toMatchObject({ type: 'check', status: 'succeeded', sourceId: source.id });
    expect(job.attempts[0]).toMatchObject({ status: 'succeeded', output: { status: 'succeeded' } });
    const log = await c.job.attemptLog.query({ jobId: ok.jobId });
    const text = log.chunks.map((ch) => ch.text).join('');
    expect(text).toContain('connecting to db.internal:5432 with password **********');
    expect(text).not.toContain('fixture-password-1');
    // The connector's environment holds nothing of the platform's.
    expect(text).not.toContain('platform secrets leaked');
    expect(text).toMatch(/env keys: [A-Z,]*\n/);
    expect(
      text
        .match(/env keys: ([A-Z,]*)/)?.[1]
        ?.split(',')
        .every((k) => ['HOME', 'LANG', 'PATH', 'TZ'].includes(k)),
    ).toBe(true);
    expect(log.complete).toBe(true);

    await c.source.update.mutate({ sourceId: source.id, config: { ...source.config, check_result: 'fail' } });
    const failed = await c.source.check.mutate({ sourceId: source.id });
    expect(failed).toMatchObject({ status: 'failed', jobStatus: 'succeeded' });
    expect(failed.message).toBe('authentication failed for password **********');

    await c.source.update.mutate({
      sourceId: source.id,
      config: { ...source.config, check_result: 'trace' },
    });
    await expect(c.source.check.mutate({ sourceId: source.id })).resolves.toMatchObject({
      status: 'failed',
      message: 'the host does not resolve',
      failureType: 'config_error',
    });

    await c.source.update.mutate({
      sourceId: source.id,
      config: { ...source.config, check_result: 'crash' },
    });
    const crashed = await c.source.check.mutate({ sourceId: source.id });
    expect(crashed).toMatchObject({ status: 'failed', jobStatus: 'failed', failureType: 'system_error' });
    expect(crashed.message).toMatch(/exited with code 3: fatal: cannot use \*{10}/);
    const crashedJob = await c.job.get.query({ jobId: crashed.jobId });
    expect(crashedJob.status).toBe('failed');
    expect(crashedJob.attempts[0]?.failureSummary).toMatchObject({
      failures: [{ failureOrigin: 'source', failureType: 'system_error' }],
    });
  });

  it('checks an unsaved config, and a destination', async () => {
    const c = h.client(world.editor.token);
    await expect(
      c.source.checkConfig.mutate({
        workspaceId: world.ws.id,
        definitionId: defs.sourceDef.id,
        config: sourceConfig(),
      }),
    ).resolves.toMatchObject({ status: 'succeeded' });
    await expectTrpcError(
      c.source.checkConfig.mutate({
        workspaceId: world.ws.id,
        definitionId: defs.sourceDef.id,
        config: { host: 'x' },
      }),
      'BAD_REQUEST',
      { fieldPath: 'config.port' },
    );
    const dest = await c.destination.create.mutate({
      workspaceId: world.ws.id,
      definitionId: defs.destinationDef.id,
      name: 'Lake',
      config: { path: '/forbidden', api_token: 'tok-abcdef' },
    });
    await expect(c.destination.check.mutate({ destinationId: dest.id })).resolves.toMatchObject({
      status: 'failed',
      message: 'cannot write to /forbidden',
    });
    // The mask sent back with the saved destination's id reuses its stored token.
    await expect(
      c.destination.checkConfig.mutate({
        workspaceId: world.ws.id,
        definitionId: defs.destinationDef.id,
        destinationId: dest.id,
        config: { path: '/ok', api_token: SECRET_MASK },
      }),
    ).resolves.toMatchObject({ status: 'succeeded' });
  });

  it('discovers a catalog as a discover job, stores it by hash and serves it from cache', async () => {
    const c = h.client(world.editor.token);
    const source = await c.source.create.mutate({
      workspaceId: world.ws.id,
      definitionId: defs.sourceDef.id,
      name: 'Discovered',
      config: sourceConfig(),
    });
    await expect(c.source.latestCatalog.query({ sourceId: source.id })).resolves.toBeNull();
    const first = await c.source.discover.mutate({ sourceId: source.id });
    expect(first.cached).toBe(false);
    expect(first.catalog?.streams.map((s) => s.name)).toEqual(['users', 'events', 'orders']);
    const job = await c.job.get.query({ jobId: first.jobId! });
    expect(job).toMatchObject({ type: 'discover', status: 'succeeded', sourceId: source.id });
    expect(job.attempts[0]?.output).toMatchObject({ catalogId: first.catalogId, streams: 3 });

    const cached = await c.source.discover.mutate({ sourceId: source.id });
    expect(cached).toMatchObject({ cached: true, jobId: null, catalogId: first.catalogId });
    const fresh = await c.source.discover.mutate({ sourceId: source.id, disableCache: true });
    expect(fresh.cached).toBe(false);
    expect(fresh.catalogId).toBe(first.catalogId); // same content, same row
    expect(await h.db.actorCatalog.count({ where: { id: first.catalogId! } })).toBe(1);
    expect(await h.db.actorCatalogFetchEvent.count({ where: { sourceId: source.id } })).toBe(2);
    await expect(c.source.latestCatalog.query({ sourceId: source.id })).resolves.toMatchObject({
      catalogId: first.catalogId,
    });
  });

  it('reports a discover that times out as a failed job', async () => {
    const { LocalConnectorRunner } = await import('../src/runner/local');
    const quick = await startApiHarness({
      deps: {
        runner: new LocalConnectorRunner({ box: h.deps.box, timeoutsMs: { discover: 300 } }),
        box: h.deps.box,
      },
    });
    try {
      const d = await seedFixtureDefinitions(quick.db);
      const w = await createWorkspaceWithUsers(quick.db, 'Slow');
      const c = quick.client(w.editor.token);
      const source = await c.source.create.mutate({
        workspaceId: w.ws.id,
        definitionId: d.sourceDef.id,
        name: 'Slow',
        config: sourceConfig({ sleep_ms: 20_000 }),
      });
      const started = Date.now();
      const result = await c.source.discover.mutate({ sourceId: source.id });
      // Well before the connector would have ended by itself, with room for a loaded machine.
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(result).toMatchObject({ catalog: null, failure: { failureType: 'transient_error' } });
      expect(result.failure?.message).toMatch(/did not finish/);
      await expect(c.job.get.query({ jobId: result.jobId! })).resolves.toMatchObject({ status: 'failed' });
    } finally {
      await quick.close();
    }
  });
});
