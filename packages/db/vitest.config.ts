import { sluiceVitest } from '../../vitest.shared';

export default sluiceVitest({
  // Generates the Prisma client (and DMMF snapshot) when missing or older than the schema.
  test: { globalSetup: ['test/global-setup.ts'] },
});
