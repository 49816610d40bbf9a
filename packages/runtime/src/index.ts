import { DockerRuntime, type DockerRuntimeOptions } from './docker/docker-runtime';
import { ProcessRuntime, type ProcessRuntimeOptions } from './process/process-runtime';
import type { RuntimeName, WorkloadRuntime } from './types';

export * from './connector-io';
export * from './docker';
export { parseLaunchPlan } from './plan';
export * from './process';

export type RuntimeOptions =
  | ({ runtime: 'process' } & ProcessRuntimeOptions)
  | ({ runtime: 'docker' } & DockerRuntimeOptions)
  | { runtime: 'kubernetes' };

/** The runtime the launcher is configured with. */
export function createRuntime(opts: RuntimeOptions): WorkloadRuntime {
  switch (opts.runtime) {
    case 'process':
      return new ProcessRuntime(opts);
    case 'docker':
      return new DockerRuntime(opts);
    default:
      throw new Error(
        `runtime "${(opts as { runtime: RuntimeName }).runtime}" is not available in this build`,
      );
  }
}
