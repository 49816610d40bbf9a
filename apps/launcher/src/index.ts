import { createLogger } from '@sluice/shared';

export const SERVICE_NAME = 'sluice-launcher';

export function serviceLogger() {
  return createLogger(SERVICE_NAME);
}
