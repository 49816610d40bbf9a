import fsp from 'node:fs/promises';
import { createLogger, type Logger } from '@sluice/shared';
import Docker from 'dockerode';
import { parseLaunchPlan } from '../plan';
import {
  type LaunchPlan,
  type LaunchResult,
  MIDDLEWARE_ROLE,
  type StopOptions,
  type WorkloadRuntime,
} from '../types';
import {
  type ContainerRole,
  connectorContainerSpec,
  type ImageEntrypoint,
  imageEntrypointOf,
  LABELS,
  middlewareContainerSpec,
} from './container-spec';
import { createWorkloadPipes } from './pipes';

export const DEFAULT_BUILD_HINT = 'node infra/images/build.mjs';

export class ImageNotFoundError extends Error {
  constructor(
    readonly image: string,
    buildHint: string,
  ) {
    super(`image "${image}" not found locally; build it with \`${buildHint}\` (no registry is pulled from)`);
    this.name = 'ImageNotFoundError';
  }
}

export interface DockerRuntimeOptions {
  /** A configured client; by default one for `socketPath`. */
  docker?: Docker;
  /** Default /var/run/docker.sock. */
  socketPath?: string;
  logger?: Logger;
  /** Default grace between SIGTERM and SIGKILL in `stop`. */
  graceMs?: number;
  /** The command named in "image not found" errors. */
  buildHint?: string;
}

interface DockerError extends Error {
  statusCode?: number;
}

const statusOf = (e: unknown) => (e as DockerError)?.statusCode;

/**
 * One container per program, found again through labels (`sluice.workload`, `sluice.role`,
 * `sluice.managed`). Containers are kept after they exit, so a second `launch` of the same
 * workload finds them and runs nothing twice; `stop` or `sweep` removes them.
 */
export class DockerRuntime implements WorkloadRuntime {
  readonly name = 'docker' as const;
  private readonly docker: Docker;
  private readonly log: Logger;
  private readonly graceMs: number;
  private readonly buildHint: string;

  constructor(opts: DockerRuntimeOptions = {}) {
    this.docker = opts.docker ?? new Docker({ socketPath: opts.socketPath ?? '/var/run/docker.sock' });
    this.log = opts.logger ?? createLogger('launcher.docker-runtime');
    this.graceMs = opts.graceMs ?? 10_000;
    this.buildHint = opts.buildHint ?? DEFAULT_BUILD_HINT;
  }

  async launch(input: LaunchPlan): Promise<LaunchResult> {
    const plan = parseLaunchPlan(input);
    const { workloadId } = plan;
    if (!plan.middleware.image) throw new Error(`workload ${workloadId}: the middleware has no image`);
    for (const c of plan.connectors) {
      if (!c.image) throw new Error(`workload ${workloadId}: the ${c.role} connector has no image`);
    }

    const existing = new Map((await this.containersOf(workloadId)).map((c) => [roleOf(c), c]));
    const connectorsToCreate = plan.connectors.filter((c) => !existing.has(c.role));
    const middlewareToCreate = !existing.has(MIDDLEWARE_ROLE);
    const created: Docker.Container[] = [];

    if (connectorsToCreate.length > 0 || middlewareToCreate) {
      if (!(await fsp.stat(plan.workDir).catch(() => undefined))?.isDirectory()) {
        throw new Error(
          `working directory ${plan.workDir} does not exist; the launcher prepares it before launch`,
        );
      }
      // Check every image before creating anything, so a missing one leaves nothing behind.
      const images = new Map<string, ImageEntrypoint>();
      const needed = [
        ...connectorsToCreate.map((c) => c.image!),
        ...(middlewareToCreate ? [plan.middleware.image] : []),
      ];
      await Promise.all(
        [...new Set(needed)].map(async (image) => images.set(image, await this.inspectImage(image))),
      );
      await createWorkloadPipes(plan.workDir, connectorsToCreate);

      // Created side by side: with the vfs storage driver each create copies a whole image, and
      // one after another they made most of a docker launch's latency.
      const specs = [
        ...connectorsToCreate.map((c) => connectorContainerSpec(plan, c, images.get(c.image!)!)),
        ...(middlewareToCreate ? [middlewareContainerSpec(plan)] : []),
      ];
      const results = await Promise.allSettled(specs.map((spec) => this.create(spec)));
      for (const r of results) if (r.status === 'fulfilled' && r.value) created.push(r.value);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        await Promise.all(created.map((c) => c.remove({ force: true }).catch(() => {})));
        throw failed.reason;
      }
    }

    // Start what is only created (new, or left by a launch that died half-way); never restart an
    // exited container. Start order does not matter: each side blocks on its pipes until the
    // other opens them.
    const all = await this.containersOf(workloadId);
    let startedAny = false;
    await Promise.all(
      all
        .filter((info) => info.State === 'created')
        .map(async (info) => {
          try {
            await this.docker.getContainer(info.Id).start();
            startedAny = true;
          } catch (e) {
            if (statusOf(e) !== 304)
              throw new Error(`cannot start container ${info.Names[0]}: ${(e as Error).message}`);
          }
        }),
    );
    this.log.info(
      { workloadId, created: created.length, started: startedAny },
      'workload launched on docker',
    );
    return { started: created.length > 0 || startedAny };
  }

  async isRunning(workloadId: string): Promise<boolean> {
    return (await this.containersOf(workloadId)).some(
      (c) => c.State === 'running' || c.State === 'restarting',
    );
  }

  async stop(workloadId: string, opts: StopOptions = {}): Promise<void> {
    const containers = await this.containersOf(workloadId);
    const t = Math.max(0, Math.ceil((opts.graceMs ?? this.graceMs) / 1000));
    await Promise.all(
      containers.map(async (info) => {
        const container = this.docker.getContainer(info.Id);
        if (info.State === 'running' || info.State === 'restarting' || info.State === 'paused') {
          await container.stop({ t }).catch((e) => {
            if (statusOf(e) !== 304 && statusOf(e) !== 404) throw e;
          });
        }
        await container.remove({ force: true, v: true }).catch((e) => {
          // 409: removal already in progress (a concurrent stop or sweep).
          if (statusOf(e) !== 404 && statusOf(e) !== 409) throw e;
        });
      }),
    );
    if (!opts.keepWorkDir) {
      const dirs = new Set(containers.map((c) => c.Labels[LABELS.workDir]).filter((d): d is string => !!d));
      for (const dir of dirs) await fsp.rm(dir, { recursive: true, force: true });
    }
    if (containers.length) this.log.info({ workloadId, containers: containers.length }, 'workload stopped');
  }

  async list(): Promise<string[]> {
    const containers = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.managed}=true`] },
    });
    return [
      ...new Set(containers.map((c) => c.Labels[LABELS.workload]).filter((w): w is string => !!w)),
    ].sort();
  }

  async sweep(activeWorkloadIds: Iterable<string>, opts: StopOptions = {}): Promise<string[]> {
    const active = new Set(activeWorkloadIds);
    const stale = (await this.list()).filter((id) => !active.has(id));
    for (const id of stale) await this.stop(id, opts);
    if (stale.length) this.log.info({ workloads: stale }, 'swept containers of inactive workloads');
    return stale;
  }

  private async containersOf(workloadId: string): Promise<Docker.ContainerInfo[]> {
    return this.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.managed}=true`, `${LABELS.workload}=${workloadId}`] },
    });
  }

  private async inspectImage(image: string): Promise<ImageEntrypoint> {
    try {
      const info = await this.docker.getImage(image).inspect();
      return imageEntrypointOf(info.Config);
    } catch (e) {
      if (statusOf(e) === 404) throw new ImageNotFoundError(image, this.buildHint);
      throw new Error(`cannot inspect image "${image}": ${(e as Error).message}`);
    }
  }

  /** Creates a container; undefined when a concurrent launch created it first. */
  private async create(spec: Docker.ContainerCreateOptions): Promise<Docker.Container | undefined> {
    try {
      return await this.docker.createContainer(spec);
    } catch (e) {
      if (statusOf(e) === 409) return undefined;
      throw new Error(`cannot create container ${spec.name}: ${(e as Error).message}`);
    }
  }
}

function roleOf(info: Docker.ContainerInfo): ContainerRole | undefined {
  return info.Labels[LABELS.role] as ContainerRole | undefined;
}
