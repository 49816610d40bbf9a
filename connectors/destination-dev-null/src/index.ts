import { destination } from './destination';

destination.main();
