// The whole lifecycle of every workload type on the process runtime, with a real API server,
// Postgres, Redis, the middleware and the real connectors (connectors/*, built bins).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ProcessRuntime } from '@sluice/runtime';
import { ensureDataplaneToken } from '@sluice/workload';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorkloadLayout, parseLaunchInput, type RunningLauncher } from '../src/index';
import { writeWorkDir } from '../src/workdir';
import {
  attemptLog,
  bundleMiddleware,
  countLines,
  createWorkload,
  FAKER,
  FIXTURE_CONNECTOR,
  fakerCatalog,
  HERE,
  LOCAL_JSONL,
  launch,
  launcherOptions,
  leftovers,
  newAttempt,
  processGroupAlive,
  processGroupMembers,
  type Stack,
  startStack,
  syncInput,
  waitFor,
  waitStatus,
  waitTerminal,
  wid,
} from './support';

let stack: Stack;
let launcher: RunningLauncher;
let mw: string;

beforeAll(async () => {
  stack = await startStack({ name: 'proc' });
  mw = await bundleMiddleware(stack.tmp);
  launcher = await launch(stack, {
    launcherId: 'proc-L1',
    middlewareCommand: [process.execPath, mw],
    concurrency: 4,
  });
}, 120_000);

afterAll(async () => {
  await launcher?.stop({ timeoutMs: 5_000 });
  if (launcher)
    for (const id of await launcher.runtime.list()) await launcher.runtime.stop(id, { graceMs: 0 });
  await stack?.close();
});

const fakerConfig = { count: 120, seed: 7, records_per_slice: 50, parallelism: 1, always_updated: false };

/**
 * The attempt log once the launcher's line about the launch is in. The launcher sends its lines
 * in the background: they may be stored after the workload has ended.
 */
const logWithLaunchLine = (id: string) =>
  waitFor(
    async () => {
      const log = await attemptLog(stack, id);
      return /launcher\([^)]*\) > (launched on|its programs already existed on) the /.test(log) && log;
    },
    `the launcher's launch line in the attempt log of ${id}`,
    20_000,
  );

describe('start-up', () => {
  it('refuses a token of another group, or one the API does not know, with a clear error', async () => {
    await expect(launch(stack, { dataplaneGroup: 'eu' })).rejects.toThrow(
      'the dataplane token belongs to group "default", but this launcher is configured for group "eu"',
    );
    await expect(launch(stack, { dataplaneToken: `sluice_dp_${'x'.repeat(40)}` })).rejects.toThrow(
      'the Workload API refused the dataplane token',
    );
  });
});

describe('process runtime lifecycle', () => {
  it('runs spec, check and discover workloads of a real connector', async () => {
    const spec = await createWorkload(stack, {
      type: 'spec',
      input: { connector: { actorType: 'source', command: FAKER } },
    });
    const check = await createWorkload(stack, {
      type: 'check',
      input: { connector: { actorType: 'source', command: FAKER, config: fakerConfig } },
    });
    const discover = await createWorkload(stack, {
      type: 'discover',
      input: { connector: { actorType: 'source', command: FAKER, config: fakerConfig } },
    });
    const [s, c, d] = await Promise.all([spec, check, discover].map((id) => waitTerminal(stack, id)));
    expect(s, s?.terminationReason ?? '').toMatchObject({ status: 'success', claimedBy: 'proc-L1' });
    expect(JSON.stringify(s!.output)).toContain('connectionSpecification');
    expect(c, c?.terminationReason ?? '').toMatchObject({ status: 'success' });
    expect(JSON.stringify(c!.output)).toContain('SUCCEEDED');
    expect(d, d?.terminationReason ?? '').toMatchObject({ status: 'success' });
    expect(JSON.stringify(d!.output)).toContain('purchases');
    for (const w of [s!, c!, d!]) expect(w.launchedAt && w.runningAt).toBeTruthy();
    // The launcher's own lines reach the attempt log through the API.
    expect(await logWithLaunchLine(check)).toMatch(
      /\[launcher\] .*claimed workload .*launched on the process runtime/s,
    );
  });

  it('runs a stdio sync end to end: records written by the destination, catalogs mapped', async () => {
    const out = path.join(stack.tmp, 'out-stdio');
    const id = await createWorkload(stack, {
      type: 'sync',
      input: syncInput(
        stack,
        { command: FAKER, config: fakerConfig },
        { command: LOCAL_JSONL, config: { destination_path: out } },
        fakerCatalog([{ name: 'users', selectedFields: ['id', 'email'] }]),
        { namespaceDefinition: 'customformat', namespaceFormat: 'raw', prefix: 'p_' },
      ),
    });
    const w = await waitTerminal(stack, id);
    expect(w.status, w.terminationReason ?? '').toBe('success');
    const file = path.join(out, 'raw__p_users.jsonl');
    expect(await countLines(file)).toBe(fakerConfig.count);
    const first = JSON.parse((await fsp.readFile(file, 'utf8')).split('\n')[0]!);
    expect(Object.keys(first._airbyte_data).sort()).toEqual(['email', 'id']);
    // Nothing is left behind once it ended.
    await waitFor(async () => !(await leftovers(launcher.runtime, id)), 'leftovers removed', 10_000);
  });

  it('runs a socket-mode sync when both connectors support it', async () => {
    const out = path.join(stack.tmp, 'out-socket');
    const id = await createWorkload(stack, {
      type: 'sync',
      input: syncInput(
        stack,
        { command: FAKER, config: fakerConfig, supportsSocket: true, resources: { cpuLimit: 2 } },
        {
          command: LOCAL_JSONL,
          config: { destination_path: out },
          supportsSocket: true,
          resources: { cpuLimit: 2 },
        },
        fakerCatalog([{ name: 'users' }]),
        { namespaceDefinition: 'destination', prefix: 's_' },
      ),
    });
    const w = await waitTerminal(stack, id);
    expect(w.status, w.terminationReason ?? '').toBe('success');
    expect(await countLines(path.join(out, 's_users.jsonl'))).toBe(fakerConfig.count);
    expect(await logWithLaunchLine(id)).toContain('socket mode, 2 sockets');
  });

  it('hands workloads to its standby middleware and has a new one ready for the next', async () => {
    const runtime = launcher.runtime as ProcessRuntime;
    const first = await waitFor(() => runtime.standbyPids()[0], 'a standby middleware');
    const id = await createWorkload(stack, {
      type: 'check',
      input: { connector: { actorType: 'source', command: FAKER, config: fakerConfig } },
    });
    const w = await waitTerminal(stack, id);
    expect(w.status, w.terminationReason ?? '').toBe('success');
    expect(await logWithLaunchLine(id)).toMatch(
      /launched on the process runtime \(check, standby middleware\)/,
    );
    const second = await waitFor(
      () => runtime.standbyPids().find((p) => p !== first),
      'a new standby middleware',
    );
    const next = await createWorkload(stack, {
      type: 'spec',
      input: { connector: { actorType: 'source', command: FAKER } },
    });
    const workDir = path.join(stack.tmp, 'w', next);
    const pid = await waitFor(async () => {
      try {
        return JSON.parse(await fsp.readFile(path.join(workDir, 'middleware.pid'), 'utf8')).pid as number;
      } catch {
        return undefined;
      }
    }, 'the middleware of the next workload');
    expect(pid).toBe(second);
    expect((await waitTerminal(stack, next)).status).toBe('success');
  });

  it('fails a workload whose connector command does not exist, at once and readably', async () => {
    const id = await createWorkload(stack, {
      type: 'check',
      input: { connector: { actorType: 'source', command: ['/nonexistent/bin/source-x'], config: {} } },
    });
    const w = await waitTerminal(stack, id, 10_000);
    expect(w).toMatchObject({ status: 'failure', terminationSource: 'launcher', launchedAt: null });
    expect(w.terminationReason).toContain('"/nonexistent/bin/source-x" does not exist');
    expect(await attemptLog(stack, id)).toContain('launch failed');
    expect(fs.existsSync(path.join(stack.tmp, 'w', id))).toBe(false);
  });

  it('fails a workload with bad input readably', async () => {
    const id = await createWorkload(stack, {
      type: 'sync',
      input: syncInput(
        stack,
        { command: FAKER, config: fakerConfig },
        { command: LOCAL_JSONL, config: { destination_path: '/tmp/x' } },
        { streams: [{ stream: { name: 'users' } }] },
      ),
    });
    const w = await waitTerminal(stack, id, 10_000);
    expect(w).toMatchObject({ status: 'failure', terminationSource: 'launcher' });
    expect(w.terminationReason).toMatch(/invalid workload input: .*catalog/);
  });

  it('fails a workload whose connector exits non-zero before any output', async () => {
    const id = await createWorkload(stack, {
      type: 'check',
      input: {
        connector: { actorType: 'source', command: [process.execPath, '-e', 'process.exit(7)'], config: {} },
      },
    });
    const w = await waitTerminal(stack, id);
    expect(w).toMatchObject({ status: 'failure', terminationSource: 'middleware' });
    expect(w.terminationReason).toMatch(/exited with code 7/);
  });
});

describe('process runtime: cancellation, isolation, idempotency, capacity', () => {
  const sleeper = (sleepMs: number) => ({
    command: [process.execPath, FIXTURE_CONNECTOR],
    config: { count: 5, sleepMs },
  });
  const sleepingSync = (extra: Partial<Parameters<typeof createWorkload>[1]> = {}) =>
    createWorkload(stack, {
      type: 'sync',
      input: syncInput(
        stack,
        sleeper(60_000),
        { command: [process.execPath, FIXTURE_CONNECTOR], config: {} },
        fakerCatalog(),
      ),
      ...extra,
    });

  it('stops a cancelled workload and leaves no process behind', async () => {
    const id = await sleepingSync();
    await waitStatus(stack, id, 'running');
    const workDir = path.join(stack.tmp, 'w', id);
    const { pgid } = JSON.parse(await fsp.readFile(path.join(workDir, 'middleware.pid'), 'utf8'));
    // The middleware and both connectors share the middleware's process group.
    const members = await waitFor(() => {
      const pids = processGroupMembers(pgid);
      return pids.length >= 3 && pids;
    }, 'the connectors to start');

    await stack.svc.cancel({ id, reason: 'cancelled by the user', source: 'user' });
    await waitFor(
      () => !processGroupAlive(pgid) && !fs.existsSync(workDir),
      'the workload processes to be gone',
      15_000,
    );
    for (const pid of members)
      expect(
        fs.existsSync(`/proc/${pid}/stat`) && !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')),
      ).toBe(false);
    const w = await waitFor(async () => {
      const row = await stack.h.db.workload.findUniqueOrThrow({ where: { id } });
      return row.endedAt ? row : undefined;
    }, 'stopped to be reported');
    expect(w.status).toBe('cancelled');
    await waitFor(
      async () =>
        (await attemptLog(stack, id)).includes(
          "stopped the workload's programs: cancelled: cancelled by the user",
        ),
      "the launcher's line in the attempt log",
    );
    expect(await launcher.runtime.list()).not.toContain(id);
  });

  it('gives connector processes none of the platform secrets, and the middleware only its own', async () => {
    const saved = {
      DATABASE_URL: process.env.DATABASE_URL,
      SLUICE_SECRET_KEY: process.env.SLUICE_SECRET_KEY,
    };
    process.env.DATABASE_URL = 'postgres://platform:db-password-123@db/sluice';
    process.env.SLUICE_SECRET_KEY = 'platform-secret-key-456';
    try {
      const dumpTo = path.join(stack.tmp, `env-${randomBytes(3).toString('hex')}.json`);
      const id = await createWorkload(stack, {
        type: 'check',
        input: {
          connector: {
            actorType: 'source',
            command: [process.execPath, path.join(HERE, 'fixtures/env-dump-connector.mjs')],
            // It answers once released: its middleware must still run when /proc is read.
            config: { dumpTo, releaseFile: `${dumpTo}.release` },
          },
        },
      });
      const dump = await waitFor(
        () => fs.existsSync(dumpTo) && JSON.parse(fs.readFileSync(dumpTo, 'utf8')),
        'env dump',
      );
      const { pid } = JSON.parse(await fsp.readFile(path.join(stack.tmp, 'w', id, 'middleware.pid'), 'utf8'));
      const middlewareEnv = Object.fromEntries(
        fs
          .readFileSync(`/proc/${pid}/environ`, 'utf8')
          .split('\0')
          .filter(Boolean)
          .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
      );
      fs.writeFileSync(`${dumpTo}.release`, '');
      const w = await waitTerminal(stack, id);
      expect(w.status, w.terminationReason ?? '').toBe('success');

      const connectorKeys = Object.keys(dump.env).filter((k) => !k.startsWith('WORKER_'));
      expect(connectorKeys.sort()).toEqual(['HOME', 'LANG', 'PATH', 'TZ']);
      const all = JSON.stringify(dump.env);
      for (const secret of ['db-password-123', 'platform-secret-key-456', stack.token])
        expect(all).not.toContain(secret);

      // A standby middleware (the default) started before its workload existed: the kernel's copy
      // of its environment is the minimal base, its workload's variables came through its stdin
      // (the runtime's tests check the environment it runs with).
      const handed = (await logWithLaunchLine(id)).includes('standby middleware');
      expect(Object.keys(middlewareEnv).sort()).toEqual(
        (handed
          ? ['HOME', 'LANG', 'PATH', 'TZ']
          : [
              'HOME',
              'LANG',
              'LOG_LEVEL',
              'PATH',
              'SLUICE_API_URL',
              'SLUICE_DATAPLANE_TOKEN',
              'SLUICE_WORKLOAD_ID',
              'TZ',
            ]
        ).sort(),
      );
      if (handed) expect(JSON.stringify(middlewareEnv)).not.toContain(stack.token);
      expect(JSON.stringify(middlewareEnv)).not.toMatch(/db-password-123|platform-secret-key-456/);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('does not start a workload twice when its programs already exist (launcher restarted)', async () => {
    // Its own dataplane group, so only the launcher under test takes the job.
    const token = `sluice_dp_${randomBytes(32).toString('base64url')}`;
    await ensureDataplaneToken(stack.h.db, { token, group: 'idem' });
    const out = path.join(stack.tmp, 'out-idem');
    const id = wid('idem');
    const input = syncInput(
      stack,
      { command: FAKER, config: fakerConfig },
      { command: LOCAL_JSONL, config: { destination_path: out } },
      fakerCatalog(),
    );
    // Created without enqueueing, then claimed and launched as a launcher would that crashed
    // before it could report `launched`; its middleware is slow to come up (held until the gate
    // file exists, not for a fixed time a loaded machine may need to start a launcher), so it
    // finds the workload launched once the restarted launcher reported it.
    const gate = path.join(stack.tmp, `gate-${id}`);
    const { WorkloadService } = await import('@sluice/workload');
    const quiet = new WorkloadService({ db: stack.h.db, secrets: null });
    await quiet.create({
      id,
      type: 'sync',
      input,
      dataplaneGroup: 'idem',
      attemptId: await newAttempt(stack),
    });
    const api = stack.h.client(token).workload;
    await api.claim.mutate({ id, launcherId: 'idem-L' });
    const data = await api.input.query({ id, launcherId: 'idem-L' });
    const opts = launcherOptions(stack, { middlewareCommand: [process.execPath, mw] });
    const layout = buildWorkloadLayout({
      workloadId: id,
      type: 'sync',
      input: parseLaunchInput('sync', data.input),
      workDir: path.join(opts.workloadsRoot!, id),
      runtime: 'process',
      socketMode: 'auto',
      middleware: {
        command: [
          '/bin/sh',
          '-c',
          `i=0; while [ ! -e '${gate}' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; exec "$0" "$@"`,
          process.execPath,
          mw,
        ],
        image: 'unused',
        env: {
          SLUICE_API_URL: opts.apiUrl,
          SLUICE_DATAPLANE_TOKEN: token,
          SLUICE_WORKLOAD_ID: id,
          LOG_LEVEL: 'info',
        },
      },
    });
    await writeWorkDir(layout);
    expect(
      (await new ProcessRuntime({ workloadsRoot: opts.workloadsRoot! }).launch(layout.plan)).started,
    ).toBe(true);

    // The restarted launcher (same id) picks the job, finds the programs and only reports launched.
    const restarted = await launch(stack, {
      launcherId: 'idem-L',
      dataplaneGroup: 'idem',
      dataplaneToken: token,
      middlewareCommand: [process.execPath, mw],
    });
    try {
      await stack.queue.enqueue({ id, dataplaneGroup: 'idem', priority: 0 });
      await waitStatus(stack, id, 'launched');
      await fsp.writeFile(gate, '');
      const w = await waitTerminal(stack, id);
      expect(w.status, w.terminationReason ?? '').toBe('success');
      expect(await countLines(path.join(out, 'users.jsonl'))).toBe(fakerConfig.count);
      expect(await logWithLaunchLine(id)).toContain(
        'its programs already existed on the process runtime; not started again',
      );
      const text = await restarted.metrics.registry.metrics();
      expect(text).toMatch(/sluice_launcher_launches_total\{[^}]*result="existing"[^}]*\} 1/);
    } finally {
      await restarted.stop({ timeoutMs: 2_000 });
    }
  });

  it('starts the programs of a workload it reported launched before a crash, once', async () => {
    const token = `sluice_dp_${randomBytes(32).toString('base64url')}`;
    await ensureDataplaneToken(stack.h.db, { token, group: 'resume' });
    const out = path.join(stack.tmp, 'out-resume');
    const id = wid('resume');
    const { WorkloadService } = await import('@sluice/workload');
    const quiet = new WorkloadService({ db: stack.h.db, secrets: null });
    await quiet.create({
      id,
      type: 'sync',
      dataplaneGroup: 'resume',
      attemptId: await newAttempt(stack),
      input: syncInput(
        stack,
        { command: FAKER, config: fakerConfig },
        { command: LOCAL_JSONL, config: { destination_path: out } },
        fakerCatalog(),
      ),
    });
    // The launcher claimed it and reported it launched, then died before starting anything.
    const api = stack.h.client(token).workload;
    await api.claim.mutate({ id, launcherId: 'resume-L' });
    await api.launched.mutate({ id, launcherId: 'resume-L' });

    const restarted = await launch(stack, {
      launcherId: 'resume-L',
      dataplaneGroup: 'resume',
      dataplaneToken: token,
      middlewareCommand: [process.execPath, mw],
    });
    try {
      await stack.queue.enqueue({ id, dataplaneGroup: 'resume', priority: 0 });
      const w = await waitTerminal(stack, id);
      expect(w.status, w.terminationReason ?? '').toBe('success');
      expect(await countLines(path.join(out, 'users.jsonl'))).toBe(fakerConfig.count);
      // A deferred line: it goes out with the launch line.
      expect(await logWithLaunchLine(id)).toContain('resuming the launch of this workload');
    } finally {
      await restarted.stop({ timeoutMs: 2_000 });
    }
  });

  it('sheds load at capacity: the job waits for a launcher with room, which takes it', async () => {
    const token = `sluice_dp_${randomBytes(32).toString('base64url')}`;
    await ensureDataplaneToken(stack.h.db, { token, group: 'shed' });
    const common = {
      dataplaneGroup: 'shed',
      dataplaneToken: token,
      middlewareCommand: [process.execPath, mw],
    };
    const small = await launch(stack, { ...common, launcherId: 'shed-1', concurrency: 1 });
    let big: RunningLauncher | undefined;
    try {
      const long = await sleepingSync({ dataplaneGroup: 'shed' });
      await waitStatus(stack, long, 'running');
      await waitFor(() => small.health().acceptingJobs === false, 'the small launcher to stop taking jobs');
      const quick = await createWorkload(stack, {
        type: 'spec',
        dataplaneGroup: 'shed',
        input: { connector: { actorType: 'source', command: FAKER } },
      });
      await new Promise((r) => setTimeout(r, 1_500));
      expect((await stack.h.db.workload.findUniqueOrThrow({ where: { id: quick } })).status).toBe('pending');

      const health = await (await fetch(`${small.metricsUrl}/healthz`)).json();
      expect(health).toMatchObject({ ok: true, capacity: 1, running: 1, acceptingJobs: false });
      const metrics = await (await fetch(`${small.metricsUrl}/metrics`)).text();
      expect(metrics).toMatch(/sluice_launcher_capacity\{[^}]*\} 1/);
      expect(metrics).toMatch(/sluice_launcher_running_workloads\{[^}]*\} 1/);
      expect(metrics).toMatch(/sluice_launcher_launch_duration_seconds_count\{[^}]*type="sync"[^}]*\} 1/);

      big = await launch(stack, { ...common, launcherId: 'shed-2', concurrency: 2 });
      const w = await waitTerminal(stack, quick);
      expect(w).toMatchObject({ status: 'success', claimedBy: 'shed-2' });

      // Room again once the long one ends: the small launcher takes jobs again.
      await stack.svc.cancel({ id: long, reason: 'done with it', source: 'user' });
      await waitFor(
        () => small.health().acceptingJobs === true,
        'the small launcher to take jobs again',
        15_000,
      );
    } finally {
      await small.stop({ timeoutMs: 2_000 });
      await big?.stop({ timeoutMs: 2_000 });
    }
  });
});
