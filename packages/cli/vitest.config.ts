import { sluiceVitest } from '../../vitest.shared';

export default sluiceVitest({
  // The end-to-end tests start the web app, a worker and a launcher and run real syncs.
  test: { testTimeout: 300_000, hookTimeout: 600_000, globalSetup: ['./test/global-setup.ts'] },
});
