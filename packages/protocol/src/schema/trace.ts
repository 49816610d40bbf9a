import * as z from 'zod';
import {
  AirbyteEstimateType,
  AirbyteFailureType,
  AirbyteStreamStatus,
  AirbyteStreamStatusReasonType,
  AirbyteTraceType,
} from './enums';
import { JsonInteger } from './primitives';
import { StreamDescriptor } from './state';

export const AirbyteErrorTraceMessage = z.looseObject({
  /** User-facing. */
  message: z.string(),
  internal_message: z.string().optional(),
  stack_trace: z.string().optional(),
  failure_type: AirbyteFailureType.optional(),
  stream_descriptor: StreamDescriptor.optional(),
});
export type AirbyteErrorTraceMessage = z.infer<typeof AirbyteErrorTraceMessage>;

export const AirbyteEstimateTraceMessage = z.looseObject({
  name: z.string(),
  type: AirbyteEstimateType,
  namespace: z.string().optional(),
  row_estimate: JsonInteger.optional(),
  byte_estimate: JsonInteger.optional(),
});
export type AirbyteEstimateTraceMessage = z.infer<typeof AirbyteEstimateTraceMessage>;

export const AirbyteStreamStatusRateLimitedReason = z.looseObject({
  /** Epoch milliseconds at which the API quota resets. */
  quota_reset: JsonInteger.optional(),
});
export type AirbyteStreamStatusRateLimitedReason = z.infer<typeof AirbyteStreamStatusRateLimitedReason>;

export const AirbyteStreamStatusReason = z.looseObject({
  type: AirbyteStreamStatusReasonType,
  rate_limited: AirbyteStreamStatusRateLimitedReason.optional(),
});
export type AirbyteStreamStatusReason = z.infer<typeof AirbyteStreamStatusReason>;

export const AirbyteStreamStatusTraceMessage = z.looseObject({
  stream_descriptor: StreamDescriptor,
  status: AirbyteStreamStatus,
  reasons: z.array(AirbyteStreamStatusReason).optional(),
});
export type AirbyteStreamStatusTraceMessage = z.infer<typeof AirbyteStreamStatusTraceMessage>;

/** A connector-specific usage event; `type` is a static event name, `value` a string payload. */
export const AirbyteAnalyticsTraceMessage = z.looseObject({
  type: z.string(),
  value: z.string().optional(),
});
export type AirbyteAnalyticsTraceMessage = z.infer<typeof AirbyteAnalyticsTraceMessage>;

export const AirbyteTraceMessage = z.looseObject({
  type: AirbyteTraceType,
  /** Milliseconds; declared `number`, so fractional values are valid. */
  emitted_at: z.number(),
  error: AirbyteErrorTraceMessage.optional(),
  estimate: AirbyteEstimateTraceMessage.optional(),
  stream_status: AirbyteStreamStatusTraceMessage.optional(),
  analytics: AirbyteAnalyticsTraceMessage.optional(),
});
export type AirbyteTraceMessage = z.infer<typeof AirbyteTraceMessage>;
