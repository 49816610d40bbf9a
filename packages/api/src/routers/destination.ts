import { router } from '../trpc';
import { actorProcedures } from './actor';

export const destinationRouter = router(actorProcedures('destination'));
