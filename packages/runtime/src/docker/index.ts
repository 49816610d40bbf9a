export {
  CONNECTOR_WRAPPER,
  connectorArgv,
  connectorContainerSpec,
  containerName,
  type ImageEntrypoint,
  imageEntrypointOf,
  LABELS,
  middlewareContainerSpec,
} from './container-spec';
export {
  DEFAULT_BUILD_HINT,
  DockerRuntime,
  type DockerRuntimeOptions,
  ImageNotFoundError,
} from './docker-runtime';
export {
  type AttachFifoOptions,
  attachFifoConnector,
  ConnectorLostError,
  ConnectorStartTimeoutError,
} from './fifo';
export { createWorkloadPipes } from './pipes';
