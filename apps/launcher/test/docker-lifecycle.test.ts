// The lifecycle on the docker runtime against the real engine. The connector is a custom one: the
// Airbyte-style fixture image built from infra/images/test-fixtures (outside connectors/), run as
// an Airbyte connector image would be; the middleware runs from its own image. Images are built
// in setup and cached by their inputs.
import fs from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildBaseImage,
  buildDockerfileImage,
  FIXTURE_IMAGE,
  FIXTURES_DIR,
} from '../../../infra/images/build.mjs';
import type { RunningLauncher } from '../src/index';
import {
  attemptLog,
  buildMiddlewareImage,
  bundleMiddleware,
  createWorkload,
  fakerCatalog,
  launch,
  type Stack,
  startStack,
  syncInput,
  waitFor,
  waitStatus,
  waitTerminal,
} from './support';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
let stack: Stack;
let launcher: RunningLauncher;

const containersOf = (id: string) =>
  docker.listContainers({ all: true, filters: { label: [`sluice.workload=${id}`] } });

beforeAll(async () => {
  await buildBaseImage();
  await buildDockerfileImage({ context: path.join(FIXTURES_DIR, 'airbyte-fixture'), tag: FIXTURE_IMAGE });
  stack = await startStack({ name: 'docker' });
  const image = await buildMiddlewareImage(await bundleMiddleware(stack.tmp));
  launcher = await launch(stack, {
    launcherId: 'docker-L1',
    runtime: 'docker',
    middlewareImage: image,
    concurrency: 4,
  });
}, 300_000);

afterAll(async () => {
  await launcher?.stop({ timeoutMs: 5_000 });
  if (launcher && stack) {
    const ours = await stack.h.db.workload.findMany({ select: { id: true } });
    for (const { id } of ours) await launcher.runtime.stop(id, { graceMs: 0 }).catch(() => {});
  }
  await stack?.close();
}, 60_000);

const fixture = (config: Record<string, unknown> = {}) => ({
  image: FIXTURE_IMAGE,
  config,
  network: 'none' as const,
});

describe('docker runtime lifecycle', () => {
  it('runs spec, check and discover of a custom connector image', async () => {
    const ids = await Promise.all(
      (['spec', 'check', 'discover'] as const).map((type) =>
        createWorkload(stack, {
          type,
          input: {
            connector: {
              actorType: 'source',
              ...fixture(),
              ...(type === 'spec' ? { config: undefined } : {}),
            },
          },
        }),
      ),
    );
    const [spec, check, discover] = await Promise.all(ids.map((id) => waitTerminal(stack, id, 60_000)));
    expect(spec!.status, spec!.terminationReason ?? '').toBe('success');
    expect(JSON.stringify(spec!.output)).toContain('connectionSpecification');
    expect(check!.status, check!.terminationReason ?? '').toBe('success');
    expect(JSON.stringify(check!.output)).toContain('SUCCEEDED');
    expect(discover!.status, discover!.terminationReason ?? '').toBe('success');
    expect(JSON.stringify(discover!.output)).toContain('numbers');
    // Ended workloads' containers and working directories are removed.
    for (const id of ids) {
      // Containers go first, then the working directory.
      await waitFor(
        async () => (await containersOf(id)).length === 0 && !fs.existsSync(path.join(stack.tmp, 'w', id)),
        `containers and working directory of ${id} removed`,
        20_000,
      );
    }
  }, 90_000);

  it('runs a sync between two containers: records reach the destination', async () => {
    const id = await createWorkload(stack, {
      type: 'sync',
      input: syncInput(stack, fixture({ count: 2500 }), fixture(), fakerCatalog([{ name: 'numbers' }])),
    });
    const w = await waitTerminal(stack, id, 60_000);
    expect(w.status, w.terminationReason ?? '').toBe('success');
    // The fixture destination logs what it received; the middleware forwards it to the attempt log.
    const log = await attemptLog(stack, id);
    expect(log).toContain('received 2500 records');
    expect(log).toMatch(/\[launcher\] .*launched on the docker runtime \(stdio mode\)/s);
  }, 90_000);

  it('fails at once, readably, for an image that does not exist, leaving nothing behind', async () => {
    const id = await createWorkload(stack, {
      type: 'check',
      input: { connector: { actorType: 'source', image: 'sluice/no-such-connector:1.0', config: {} } },
    });
    const w = await waitTerminal(stack, id, 15_000);
    expect(w).toMatchObject({ status: 'failure', terminationSource: 'launcher', launchedAt: null });
    expect(w.terminationReason).toContain('image "sluice/no-such-connector:1.0" not found locally');
    expect(await containersOf(id)).toHaveLength(0);
    expect(fs.existsSync(path.join(stack.tmp, 'w', id))).toBe(false);
  });

  it('fails a workload whose connector exits non-zero before any output', async () => {
    const id = await createWorkload(stack, {
      type: 'check',
      input: { connector: { actorType: 'source', ...fixture({ exitCode: 3 }) } },
    });
    const w = await waitTerminal(stack, id, 60_000);
    expect(w).toMatchObject({ status: 'failure', terminationSource: 'middleware' });
    expect(w.terminationReason).toMatch(/exited with code 3/);
  }, 90_000);

  it('keeps platform secrets out of connector containers, and cancellation leaves no container', async () => {
    const id = await createWorkload(stack, {
      type: 'sync',
      input: syncInput(
        stack,
        fixture({ count: 3, sleepMs: 120_000 }),
        fixture(),
        fakerCatalog([{ name: 'numbers' }]),
      ),
    });
    await waitStatus(stack, id, 'running', 60_000);
    const list = await containersOf(id);
    expect(list.map((c) => c.Labels['sluice.role']).sort()).toEqual(['destination', 'middleware', 'source']);
    for (const c of list) {
      const env = (await docker.getContainer(c.Id).inspect()).Config.Env.join('\n');
      if (c.Labels['sluice.role'] === 'middleware') expect(env).toContain('SLUICE_DATAPLANE_TOKEN=');
      else {
        expect(env).not.toContain(stack.token);
        expect(env).not.toMatch(/SLUICE_|DATABASE_URL/);
      }
    }

    await stack.svc.cancel({ id, reason: 'cancelled by the user', source: 'user' });
    await waitFor(
      async () => (await containersOf(id)).length === 0 && !fs.existsSync(path.join(stack.tmp, 'w', id)),
      'containers and working directory removed',
      30_000,
    );
    const w = await waitFor(async () => {
      const row = await stack.h.db.workload.findUniqueOrThrow({ where: { id } });
      return row.endedAt ? row : undefined;
    }, 'stopped to be reported');
    expect(w.status).toBe('cancelled');
  }, 120_000);
});
