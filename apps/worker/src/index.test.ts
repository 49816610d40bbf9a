import { expect, it } from 'vitest';
import { SERVICE_NAME, serviceLogger } from './index';

it('creates a logger named after the service', () => {
  expect(serviceLogger().bindings()).toMatchObject({ name: SERVICE_NAME });
});
