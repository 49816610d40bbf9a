import { createLogger } from '@sluice/shared';

export const SERVICE_NAME = 'sluice-worker';

export function serviceLogger() {
  return createLogger(SERVICE_NAME);
}
