// Against the real Docker engine, with images built locally (cached between runs) from
// infra/images: the node base and the Airbyte-style fixture connector.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@sluice/shared';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BASE_IMAGE,
  buildBaseImage,
  buildDockerfileImage,
  FIXTURE_IMAGE,
  FIXTURES_DIR,
} from '../../../../infra/images/build.mjs';
import { bundleScript, readJsonIfExists, waitFor } from '../test-support';
import type { ConnectorProgram, LaunchPlan } from '../types';
import { LABELS } from './container-spec';
import { DockerRuntime, ImageNotFoundError } from './docker-runtime';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const prefix = `dk${process.pid}`;
let root: string;
let middlewareJs: string;
let runtime: DockerRuntime;

interface MiddlewareResult {
  source: { records: number; code: number; stderr: string };
  destination?: { lines: string[]; code: number; stderr: string };
}

beforeAll(async () => {
  await buildBaseImage();
  await buildDockerfileImage({ context: path.join(FIXTURES_DIR, 'airbyte-fixture'), tag: FIXTURE_IMAGE });
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-docker-runtime-'));
  middlewareJs = await bundleScript(
    path.join(HERE, 'test-fixtures/fifo-middleware.ts'),
    path.join(root, 'mw.mjs'),
  );
  runtime = new DockerRuntime({ logger: createLogger('test', { level: 'warn' }) });
}, 300_000);

afterAll(async () => {
  if (runtime) {
    const ours = (await runtime.list()).filter((id) => id.startsWith(prefix));
    for (const id of ours) await runtime.stop(id, { graceMs: 0 });
  }
  if (root) await fsp.rm(root, { recursive: true, force: true });
});

type Connector = { program: ConnectorProgram; config: Record<string, unknown> };

function source(config: Record<string, unknown>, extra: Partial<ConnectorProgram> = {}): Connector {
  return {
    program: {
      role: 'source',
      image: FIXTURE_IMAGE,
      args: ['read', '--config', 'source/connectorConfig.json', '--catalog', 'source/catalog.json'],
      env: { SOURCE_VAR: 'from-plan' },
      network: 'none',
      stdin: false,
      ...extra,
    },
    config,
  };
}

/** Prepares a working directory as the launcher would; the middleware counts what it routes. */
async function preparePlan(name: string, connectors: Connector[]): Promise<LaunchPlan> {
  const workloadId = `${prefix}-${name}`;
  const workDir = path.join(root, workloadId);
  for (const { program, config } of connectors) {
    await fsp.mkdir(path.join(workDir, program.role), { recursive: true });
    await fsp.writeFile(path.join(workDir, program.role, 'connectorConfig.json'), JSON.stringify(config));
    await fsp.writeFile(path.join(workDir, program.role, 'catalog.json'), '{"streams":[]}');
  }
  await fsp.copyFile(middlewareJs, path.join(workDir, 'mw.mjs'));
  const roles = connectors.map((c) => c.program.role).join('+');
  const plan: LaunchPlan = {
    workloadId,
    workDir,
    middleware: {
      image: BASE_IMAGE,
      command: ['node', path.join(workDir, 'mw.mjs')],
      args: [workDir, path.join(workDir, 'result.json'), roles],
      env: { SLUICE_WORKLOAD_ID: workloadId },
      network: 'host',
    },
    connectors: connectors.map((c) => c.program),
  };
  await fsp.writeFile(path.join(workDir, 'plan.json'), JSON.stringify(plan));
  return plan;
}

async function containersOf(workloadId: string) {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.workload}=${workloadId}`] },
  });
  const byRole = new Map<string, Docker.ContainerInspectInfo>();
  for (const c of list) byRole.set(c.Labels[LABELS.role]!, await docker.getContainer(c.Id).inspect());
  return byRole;
}

const waitResult = (plan: LaunchPlan) =>
  waitFor(
    () => readJsonIfExists<MiddlewareResult>(path.join(plan.workDir, 'result.json')),
    'middleware result',
    60_000,
  );

describe('DockerRuntime', () => {
  it('moves records from a source to a destination container through the pipes', async () => {
    const plan = await preparePlan('flow', [
      source({ count: 5000 }, { resources: { memoryLimitMb: 256, cpuLimit: 0.5 } }),
      {
        program: {
          role: 'destination',
          image: FIXTURE_IMAGE,
          args: ['write', '--config', 'destination/connectorConfig.json'],
          env: {},
          network: 'host',
          stdin: true,
        },
        config: {},
      },
    ]);
    expect(await runtime.launch(plan)).toEqual({ started: true });

    const result = await waitResult(plan);
    expect(result.source).toMatchObject({ records: 5000, code: 0 });
    expect(result.source.stderr).toContain('reading 5000 records');
    expect(result.destination?.code).toBe(0);
    expect(result.destination?.lines.some((l) => l.includes('received 5000 records'))).toBe(true);
    expect(result.destination?.lines.some((l) => l.includes('"type":"STATE"'))).toBe(true);
    for (const role of ['source', 'destination']) {
      expect(fs.readFileSync(path.join(plan.workDir, `pipes/${role}.exit`), 'utf8').trim()).toBe('0');
    }

    const containers = await containersOf(plan.workloadId);
    expect([...containers.keys()].sort()).toEqual(['destination', 'middleware', 'source']);
    const src = containers.get('source')!;
    expect(src.Config.Labels).toMatchObject({
      [LABELS.managed]: 'true',
      [LABELS.workload]: plan.workloadId,
      [LABELS.role]: 'source',
    });
    expect(src.HostConfig.NetworkMode).toBe('none');
    expect(src.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect(src.HostConfig.NanoCpus).toBe(500_000_000);
    expect(src.HostConfig.Binds).toEqual([`${plan.workDir}:${plan.workDir}`]);
    expect(src.Config.WorkingDir).toBe(plan.workDir);
    expect(src.Config.Env).toContain('SOURCE_VAR=from-plan');
    expect(src.Config.Env?.some((e) => /SLUICE_SECRET_KEY|DATABASE_URL/.test(e))).toBe(false);
    expect(src.State.ExitCode).toBe(0);
    expect(containers.get('destination')!.HostConfig.NetworkMode).toBe('host');
    expect(containers.get('middleware')!.HostConfig.NetworkMode).toBe('host');
    expect(containers.get('middleware')!.HostConfig.Memory).toBe(0);

    // Idempotent: found by label, nothing created or restarted.
    const ids = [...containers.values()].map((c) => c.Id).sort();
    expect(await runtime.launch(plan)).toEqual({ started: false });
    expect([...(await containersOf(plan.workloadId)).values()].map((c) => c.Id).sort()).toEqual(ids);
    expect(await runtime.list()).toContain(plan.workloadId);

    await runtime.stop(plan.workloadId);
    expect((await containersOf(plan.workloadId)).size).toBe(0);
    expect(fs.existsSync(plan.workDir)).toBe(false);
    expect(await runtime.list()).not.toContain(plan.workloadId);
    await runtime.stop(plan.workloadId); // idempotent
  });

  it('reports a connector that exits non-zero before any output', async () => {
    const plan = await preparePlan('fail', [source({ exitCode: 3 })]);
    await runtime.launch(plan);
    const result = await waitResult(plan);
    expect(result.source).toMatchObject({ records: 0, code: 3 });
    expect(result.source.stderr).toContain('failing on purpose with exit code 3');
    const src = (await containersOf(plan.workloadId)).get('source')!;
    expect(src.State.ExitCode).toBe(3);
    await runtime.stop(plan.workloadId);
  });

  it('fails clearly on an image that is not built, creating nothing', async () => {
    const plan = await preparePlan('noimage', [source({}, { image: 'sluice/does-not-exist:dev' })]);
    const t0 = Date.now();
    const err = await runtime.launch(plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageNotFoundError);
    expect((err as Error).message).toMatch(
      /^image "sluice\/does-not-exist:dev" not found locally; build it with `node infra\/images\/build.mjs`/,
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((await containersOf(plan.workloadId)).size).toBe(0);
    await fsp.rm(plan.workDir, { recursive: true, force: true });
  });

  it('sweeps inactive workloads; stop forwards SIGTERM to a running connector', async () => {
    const slow = () => [source({ count: 1, sleepMs: 600_000 })];
    const keep = await preparePlan('keep', slow());
    const gone = await preparePlan('gone', slow());
    await Promise.all([runtime.launch(keep), runtime.launch(gone)]);
    await waitFor(async () => (await runtime.isRunning(keep.workloadId)) || undefined, 'keep running');
    // The connector is up and streaming (it waits in sleepMs, stdout open).
    await waitFor(
      () => fs.existsSync(path.join(keep.workDir, 'pipes/source.started')) || undefined,
      'started',
    );

    expect(await runtime.sweep([keep.workloadId, 'some-other-workload'], { graceMs: 1_000 })).toEqual([
      gone.workloadId,
    ]);
    expect((await containersOf(gone.workloadId)).size).toBe(0);
    expect(fs.existsSync(gone.workDir)).toBe(false);
    expect((await containersOf(keep.workloadId)).size).toBe(2);
    expect(await runtime.isRunning(keep.workloadId)).toBe(true);

    // A grace period a loaded machine needs for the wrapper to forward SIGTERM and record the code.
    await runtime.stop(keep.workloadId, { graceMs: 5_000, keepWorkDir: true });
    expect(await runtime.isRunning(keep.workloadId)).toBe(false);
    expect((await containersOf(keep.workloadId)).size).toBe(0);
    // The wrapper (PID 1) forwarded docker stop's SIGTERM to the connector and recorded it.
    expect(fs.readFileSync(path.join(keep.workDir, 'pipes/source.exit'), 'utf8').trim()).toBe('143');
    await fsp.rm(keep.workDir, { recursive: true, force: true });
  });
});
