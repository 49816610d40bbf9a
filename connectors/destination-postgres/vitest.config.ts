import { sluiceVitest } from '../../vitest.shared';

export default sluiceVitest({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    // Each file has its own database, but the 2-core machine is shared: run files one by one.
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
