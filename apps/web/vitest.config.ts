import { sluiceVitest } from '../../vitest.shared';

export default sluiceVitest({
  // Tests start the built app (`next build` first when its sources changed), a worker and a
  // launcher, and drive a browser through real syncs: minutes, not seconds, on a shared machine.
  test: { testTimeout: 300_000, hookTimeout: 600_000 },
});
