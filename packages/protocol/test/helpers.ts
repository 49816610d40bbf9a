import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export {
  byType,
  collect,
  configuredCatalog,
  type Message,
  type RunResult,
  runConnector as run,
  scratchDir as scratch,
  socketEnv,
  traceErrors,
} from '../src/testing';

const here = dirname(fileURLToPath(import.meta.url));
export const SOURCE = join(here, 'fixtures', 'dist', 'test-source.js');
export const DESTINATION = join(here, 'fixtures', 'dist', 'test-destination.js');
