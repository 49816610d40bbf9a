export {
  MIDDLEWARE_STDERR_LOG,
  MIDDLEWARE_STDOUT_LOG,
  PID_FILE,
  PidRecord,
  ProcessRuntime,
  type ProcessRuntimeOptions,
} from './process-runtime';
export { childConnectorStdio, spawnConnector } from './spawn-connector';
export {
  awaitStandbyHandoff,
  becomeHandedWorkload,
  removeStandbyDir,
  STANDBY_DIR_PREFIX,
  STANDBY_FLAG,
  STANDBY_STDERR_LOG,
  STANDBY_STDOUT_LOG,
  type StandbyHandoff,
} from './standby-handoff';
export { type StandbyOptions, StandbyPool } from './standby-pool';
