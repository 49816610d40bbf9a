/**
 * What the middleware uses to run and talk to connectors, whatever the runtime, and to wait as a
 * standby for its workload (process runtime). Depends on Node.js, zod and `./types` only (no
 * Docker client), so the middleware can bundle it.
 */
export {
  type AttachFifoOptions,
  attachFifoConnector,
  ConnectorLostError,
  ConnectorStartTimeoutError,
} from './docker/fifo';
export { childConnectorStdio, spawnConnector } from './process/spawn-connector';
export {
  awaitStandbyHandoff,
  becomeHandedWorkload,
  removeStandbyDir,
  STANDBY_FLAG,
  type StandbyHandoff,
} from './process/standby-handoff';
export { buildProgramEnv } from './program-env';
export * from './types';
