/**
 * Pure builders of the Docker Engine `ContainerCreate` bodies for a workload (DESIGN §6: spec
 * builders are pure functions, unit-tested without an engine).
 */
import path from 'node:path';
import type Docker from 'dockerode';
import {
  type ConnectorProgram,
  type ConnectorRole,
  type LaunchPlan,
  MIDDLEWARE_ROLE,
  PIPES_DIR,
  type ProgramSpec,
} from '../types';

export const LABELS = {
  managed: 'sluice.managed',
  workload: 'sluice.workload',
  role: 'sluice.role',
  /** Host path of the working directory, so `stop` and `sweep` can remove it. */
  workDir: 'sluice.workdir',
} as const;

export type ContainerRole = ConnectorRole | typeof MIDDLEWARE_ROLE;

export function containerName(workloadId: string, role: ContainerRole): string {
  return `sluice-${workloadId}-${role}`;
}

/** What a connector image runs, from `docker image inspect`. */
export interface ImageEntrypoint {
  entrypoint: string[];
  cmd: string[];
  /** Airbyte images name their entrypoint in this variable too (Airbyte's Kubernetes runner needs it). */
  airbyteEntrypoint?: string;
}

type ImageConfig = {
  Entrypoint?: string[] | string | null;
  Cmd?: string[] | string | null;
  Env?: string[] | null;
};

export function imageEntrypointOf(config: ImageConfig | undefined): ImageEntrypoint {
  const argv = (v: string[] | string | null | undefined) =>
    v == null ? [] : typeof v === 'string' ? ['/bin/sh', '-c', v] : v;
  const envLine = (config?.Env ?? []).find((e) => e.startsWith('AIRBYTE_ENTRYPOINT='));
  const airbyteEntrypoint = envLine?.slice('AIRBYTE_ENTRYPOINT='.length).trim();
  return {
    entrypoint: argv(config?.Entrypoint),
    cmd: argv(config?.Cmd),
    ...(airbyteEntrypoint ? { airbyteEntrypoint } : {}),
  };
}

/**
 * The connector's own argv: the image's ENTRYPOINT (exact, as `docker run` would run it) or,
 * failing that, AIRBYTE_ENTRYPOINT; followed by the plan's args (the image's CMD when none).
 */
export function connectorArgv(image: ImageEntrypoint, args: string[], imageName: string): string[] {
  const rest = args.length ? args : image.cmd;
  if (image.entrypoint.length) return [...image.entrypoint, ...rest];
  if (image.airbyteEntrypoint) {
    // Word-split by the shell, as Airbyte does when it wraps a connector's command.
    return ['/bin/sh', '-c', 'exec $AIRBYTE_ENTRYPOINT "$@"', 'airbyte-entrypoint', ...rest];
  }
  throw new Error(
    `image "${imageName}" has neither an ENTRYPOINT nor AIRBYTE_ENTRYPOINT; cannot run it as a connector`,
  );
}

/**
 * Runs the connector with its stdio on the workload's named pipes and records its exit code.
 * Arguments: pipes dir, role, 1|0 (stdin), then the connector's argv.
 *
 * - `<role>.started` tells the middleware the container runs (before the FIFO opens block).
 * - The connector runs in the background so this shell, PID 1 of the container, can forward
 *   `docker stop`'s SIGTERM (PID 1 ignores signals it has no handler for) and still outlive it
 *   to write the exit code; `wait` returns early when a trapped signal arrives, hence the loop.
 * - The exit file is written to a temporary name and renamed, so a reader never sees it half written.
 */
export const CONNECTOR_WRAPPER = `set -u
dir=$1; role=$2; use_stdin=$3; shift 3
echo $$ > "$dir/$role.started.tmp" && mv -f "$dir/$role.started.tmp" "$dir/$role.started"
if [ "$use_stdin" = 1 ]; then
  "$@" <"$dir/$role.stdin" >"$dir/$role.stdout" 2>"$dir/$role.stderr" &
else
  "$@" </dev/null >"$dir/$role.stdout" 2>"$dir/$role.stderr" &
fi
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
while :; do
  wait "$child"; code=$?
  kill -0 "$child" 2>/dev/null || break
done
echo "$code" > "$dir/$role.exit.tmp" && mv -f "$dir/$role.exit.tmp" "$dir/$role.exit"
exit "$code"
`;

function envList(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

function hostConfig(program: ProgramSpec, workDir: string): Docker.HostConfig {
  const memory = program.resources?.memoryLimitMb ? program.resources.memoryLimitMb * 1024 * 1024 : undefined;
  return {
    // Same path inside and outside: every path in the plan is valid in every container.
    Binds: [`${workDir}:${workDir}`],
    NetworkMode: program.network,
    ...(program.resources?.cpuLimit ? { NanoCpus: Math.round(program.resources.cpuLimit * 1e9) } : {}),
    // MemorySwap equal to Memory: no swap on top of the limit.
    ...(memory ? { Memory: memory, MemorySwap: memory } : {}),
    SecurityOpt: ['no-new-privileges'],
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
  };
}

function labels(plan: LaunchPlan, role: ContainerRole): Record<string, string> {
  return {
    [LABELS.managed]: 'true',
    [LABELS.workload]: plan.workloadId,
    [LABELS.role]: role,
    [LABELS.workDir]: plan.workDir,
  };
}

export function connectorContainerSpec(
  plan: LaunchPlan,
  connector: ConnectorProgram,
  image: ImageEntrypoint,
): Docker.ContainerCreateOptions {
  if (!connector.image)
    throw new Error(`the ${connector.role} connector has no image for a container runtime`);
  const argv = connectorArgv(image, connector.args, connector.image);
  return {
    name: containerName(plan.workloadId, connector.role),
    Image: connector.image,
    Entrypoint: ['/bin/sh', '-c', CONNECTOR_WRAPPER],
    Cmd: [
      'sluice-connector-wrapper',
      path.join(plan.workDir, PIPES_DIR),
      connector.role,
      connector.stdin ? '1' : '0',
      ...argv,
    ],
    Env: envList(connector.env),
    WorkingDir: plan.workDir,
    Labels: labels(plan, connector.role),
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    OpenStdin: false,
    Tty: false,
    HostConfig: hostConfig(connector, plan.workDir),
  };
}

/** The middleware runs its image's entrypoint, or `command` when the plan sets one, with `args`. */
export function middlewareContainerSpec(plan: LaunchPlan): Docker.ContainerCreateOptions {
  const mw = plan.middleware;
  if (!mw.image) throw new Error('the middleware has no image for a container runtime');
  return {
    name: containerName(plan.workloadId, MIDDLEWARE_ROLE),
    Image: mw.image,
    ...(mw.command ? { Entrypoint: mw.command } : {}),
    ...(mw.args.length ? { Cmd: mw.args } : {}),
    Env: envList(mw.env),
    WorkingDir: plan.workDir,
    Labels: labels(plan, MIDDLEWARE_ROLE),
    Tty: false,
    HostConfig: hostConfig(mw, plan.workDir),
  };
}
