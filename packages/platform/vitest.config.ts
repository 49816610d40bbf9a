import { sluiceVitest } from '../../vitest.shared';

export default sluiceVitest();
