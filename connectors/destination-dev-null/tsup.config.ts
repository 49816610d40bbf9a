import { selfContainedBundle } from '../../tsup.bundle';

export default selfContainedBundle();
