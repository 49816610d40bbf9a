import * as z from 'zod';
import { AirbyteLogLevel } from './enums';

export const AirbyteLogMessage = z.looseObject({
  level: AirbyteLogLevel,
  message: z.string(),
  stack_trace: z.string().optional(),
});
export type AirbyteLogMessage = z.infer<typeof AirbyteLogMessage>;
