import { sluiceVitest } from '../../vitest.shared';

export default sluiceVitest({ test: { globalSetup: ['./test/global-setup.ts'] } });
