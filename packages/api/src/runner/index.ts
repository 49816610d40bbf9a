export { LocalConnectorRunner, type LocalRunnerOptions } from './local';
export { secretScrubber } from './scrub';
export {
  type CheckOutcome,
  type ConnectorRunContext,
  ConnectorRunError,
  type ConnectorRunner,
  type RunnableDefinition,
  RunnerUnsupportedError,
} from './types';
