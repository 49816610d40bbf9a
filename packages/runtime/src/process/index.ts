export {
  MIDDLEWARE_STDERR_LOG,
  MIDDLEWARE_STDOUT_LOG,
  PID_FILE,
  PidRecord,
  ProcessRuntime,
  type ProcessRuntimeOptions,
} from './process-runtime';
export { childConnectorStdio, spawnConnector } from './spawn-connector';
