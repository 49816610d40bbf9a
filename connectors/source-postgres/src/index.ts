import { source } from './source';

source.main();
