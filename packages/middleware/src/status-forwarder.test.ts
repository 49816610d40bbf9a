import type { AirbyteMessage } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { StatusForwarder } from './status-forwarder';

const status = (name: string, s: string, namespace?: string): AirbyteMessage =>
  ({
    type: 'TRACE',
    trace: {
      type: 'STREAM_STATUS',
      emitted_at: 1,
      stream_status: { stream_descriptor: { name, ...(namespace ? { namespace } : {}) }, status: s },
    },
  }) as AirbyteMessage;

function setup() {
  const lines: string[] = [];
  const f = new StatusForwarder({
    write: (l) => lines.push(l),
    // Source a → destination p_a in namespace dst; b is configured as is; anything else is not.
    toDestination: (d) =>
      d.name === 'a' ? { name: 'p_a', namespace: 'dst' } : d.name === 'b' ? { name: 'b' } : undefined,
    streams: [{ name: 'p_a', namespace: 'dst' }, { name: 'b' }],
  });
  const sent = () =>
    lines.map((l) => {
      const s = JSON.parse(l).trace.stream_status;
      return `${s.stream_descriptor.namespace ? `${s.stream_descriptor.namespace}.` : ''}${s.stream_descriptor.name}:${s.status}`;
    });
  return { f, sent };
}

describe('StatusForwarder', () => {
  it('forwards statuses under the destination names, COMPLETE only once the source succeeded', () => {
    const { f, sent } = setup();
    f.onStatus(status('a', 'STARTED'));
    f.onStatus(status('zzz', 'STARTED'));
    f.onStatus(status('a', 'COMPLETE'));
    f.onStatus(status('b', 'STARTED'));
    expect(sent()).toEqual(['dst.p_a:STARTED', 'b:STARTED']);
    f.onStatus(status('b', 'COMPLETE'));
    f.finish(true);
    expect(sent()).toEqual(['dst.p_a:STARTED', 'b:STARTED', 'dst.p_a:COMPLETE', 'b:COMPLETE']);
    // Nothing after the end.
    f.onStatus(status('a', 'INCOMPLETE'));
    f.finish(false);
    expect(sent()).toHaveLength(4);
  });

  it('never sends COMPLETE for a failed source: every stream is INCOMPLETE instead', () => {
    const { f, sent } = setup();
    f.onStatus(status('a', 'STARTED'));
    f.onStatus(status('a', 'COMPLETE'));
    f.onStatus(status('b', 'INCOMPLETE'));
    f.finish(false);
    expect(sent()).toEqual(['dst.p_a:STARTED', 'b:INCOMPLETE', 'dst.p_a:INCOMPLETE']);
  });

  it('tells a destination that heard nothing that nothing completed when the source died', () => {
    const { f, sent } = setup();
    f.finish(false);
    expect(sent()).toEqual(['dst.p_a:INCOMPLETE', 'b:INCOMPLETE']);
  });
});
