export { type ApiHarness, createTestUser, type HarnessClientOptions, startApiHarness } from './harness';
