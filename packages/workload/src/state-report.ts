import type { ConnectionStateInput, StreamStateInput } from '@sluice/db';
import { AirbyteStateMessage, stateTypeOf } from '@sluice/protocol';
import { z } from 'zod';
import { WorkloadError } from './errors';

export const StateReport = z.array(AirbyteStateMessage).min(1).max(10_000);
export type StateReport = z.infer<typeof StateReport>;

const key = (d: { name: string; namespace?: string | null }) => `${d.namespace ?? ''}\u0000${d.name}`;

/**
 * Turns the destination-committed STATE messages the middleware flushes into what
 * persistConnectionState stores. STREAM: the latest state of each stream in the batch (others
 * keep their stored state). GLOBAL and LEGACY: each message is the whole state, so the last
 * one wins. One batch holds one state type.
 */
export function toConnectionState(messages: StateReport): ConnectionStateInput {
  const types = new Set(messages.map(stateTypeOf));
  if (types.size > 1) {
    throw new WorkloadError(
      'BAD_REQUEST',
      `a state report mixes state types (${[...types].join(', ')}); a connection's state has one type`,
      { path: 'states' },
    );
  }
  const type = stateTypeOf(messages[0]!);
  const last = messages[messages.length - 1]!;
  if (type === 'LEGACY') return { type: 'LEGACY', state: last.data ?? {} };
  if (type === 'GLOBAL') {
    if (!last.global) {
      throw new WorkloadError('BAD_REQUEST', 'a GLOBAL state message has no "global"', { path: 'states' });
    }
    return {
      type: 'GLOBAL',
      sharedState: last.global.shared_state ?? {},
      streams: last.global.stream_states.map((s) => ({
        descriptor: { name: s.stream_descriptor.name, namespace: s.stream_descriptor.namespace ?? null },
        state: s.stream_state ?? {},
      })),
    };
  }
  const streams = new Map<string, StreamStateInput>();
  messages.forEach((m, i) => {
    if (!m.stream) {
      throw new WorkloadError('BAD_REQUEST', `state message ${i} is STREAM but has no "stream"`, {
        path: `states.${i}`,
      });
    }
    const descriptor = {
      name: m.stream.stream_descriptor.name,
      namespace: m.stream.stream_descriptor.namespace,
    };
    streams.set(key(descriptor), { descriptor, state: m.stream.stream_state ?? {} });
  });
  return { type: 'STREAM', streams: [...streams.values()] };
}
