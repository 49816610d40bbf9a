export { apiErrorCode, createWorkloadApi, type WorkloadApi, type WorkloadApiOptions } from './api';
export {
  DEFAULT_MIDDLEWARE_CLI,
  DEFAULT_MIDDLEWARE_IMAGE,
  DEFAULT_WORKLOADS_ROOT,
  defaultLauncherId,
  LauncherEnv,
  loadLauncherEnv,
  REPO_ROOT,
} from './env';
export { InputError, LaunchInput, parseLaunchInput, WorkloadType } from './input';
export {
  type LauncherOptions,
  launcherOptionsFromEnv,
  type RunningLauncher,
  startLauncher,
} from './launcher';
export {
  buildWorkloadLayout,
  type LayoutArgs,
  type MiddlewareConfig,
  type MiddlewareSettings,
  type RuntimeKind,
  socketCountFor,
  type WorkloadLayout,
} from './layout';
export {
  buildSyncCatalogs,
  MappingOptions,
  mapNamespace,
  mapStream,
  NamespaceDefinition,
  type SyncCatalogs,
} from './mapping';
export { createLauncherMetrics, type LauncherMetrics } from './metrics';

export const SERVICE_NAME = 'sluice-launcher';
