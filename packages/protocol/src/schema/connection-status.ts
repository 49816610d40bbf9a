import * as z from 'zod';
import { AirbyteConnectionStatusValue } from './enums';

/** The result of a `check`. */
export const AirbyteConnectionStatus = z.looseObject({
  status: AirbyteConnectionStatusValue,
  message: z.string().optional(),
});
export type AirbyteConnectionStatus = z.infer<typeof AirbyteConnectionStatus>;
