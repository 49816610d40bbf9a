import type { AirbyteStateMessage } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { StateReporter } from './state-reporter';
import { mapStateDescriptors, SocketStateTracker, StdioStateTracker } from './state-tracker';
import { SyncStats } from './stats';

const stream = (name: string, v: number, extra: object = {}): AirbyteStateMessage =>
  ({
    type: 'STREAM',
    stream: { stream_descriptor: { name }, stream_state: { v } },
    ...extra,
  }) as AirbyteStateMessage;
const global = (v: number, extra: object = {}): AirbyteStateMessage =>
  ({
    type: 'GLOBAL',
    global: {
      shared_state: { v },
      stream_states: [{ stream_descriptor: { name: 'a' }, stream_state: { v } }],
    },
    ...extra,
  }) as AirbyteStateMessage;

describe('StdioStateTracker', () => {
  it('commits a state and every earlier one when the destination echoes it', () => {
    const stats = new SyncStats();
    const tracker = new StdioStateTracker();
    const a = stats.counter('a');
    const forwarded: AirbyteStateMessage[] = [];
    for (let i = 1; i <= 3; i++) {
      a.recordsEmitted += 10;
      a.bytesEmitted += 100;
      stats.markDirty(a);
      forwarded.push(tracker.onSourceState(stream('a', i), stats.snapshot(), 10));
    }
    expect(forwarded.map((s) => (s as { id?: number }).id)).toEqual([1, 2, 3]);
    expect(a.recordsCommitted).toBe(0);

    // A destination may acknowledge only the latest of several states.
    const r = tracker.onEcho(forwarded[1]!, (snap) => stats.commit(snap));
    expect(r).toMatchObject({ kind: 'committed', id: 2, count: 2, records: 20 });
    expect(a).toMatchObject({ recordsCommitted: 20, bytesCommitted: 200 });
    // Persisted without the transport id, as the source wrote it.
    expect(r.kind === 'committed' && r.state).toEqual({
      ...stream('a', 2),
      sourceStats: { recordCount: 10 },
    });
    expect(tracker.onEcho(forwarded[0]!, (snap) => stats.commit(snap))).toEqual({ kind: 'stale', id: 1 });
    expect(tracker.onEcho({ ...stream('a', 9), id: 42 } as AirbyteStateMessage, () => {})).toEqual({
      kind: 'unknown',
      id: 42,
    });
    expect(tracker.pending).toBe(1);
    // An echo without an id acknowledges the oldest pending state.
    const last = tracker.onEcho(stream('a', 3), (snap) => stats.commit(snap));
    expect(last).toMatchObject({ kind: 'committed', id: 3, count: 1 });
    expect(a.recordsCommitted).toBe(30);
    expect(tracker.pending).toBe(0);
  });

  it('maps descriptors to the destination and back', () => {
    const toDest = <D extends { name: string; namespace?: string }>(d: D) => ({
      ...d,
      name: `x_${d.name}`,
      namespace: 'dst',
    });
    const toSrc = <D extends { name: string; namespace?: string }>(d: D) => {
      const { namespace: _n, ...rest } = d;
      return { ...rest, name: d.name.replace(/^x_/, '') } as D;
    };
    const tracker = new StdioStateTracker(toDest, toSrc);
    const fwd = tracker.onSourceState(global(1), [], 0);
    expect(fwd.global?.stream_states[0]?.stream_descriptor).toEqual({ name: 'x_a', namespace: 'dst' });
    const r = tracker.onEcho(fwd, () => {});
    expect(r.kind === 'committed' && r.state.global?.stream_states[0]?.stream_descriptor).toEqual({
      name: 'a',
    });
    expect(mapStateDescriptors({ type: 'LEGACY', data: { z: 1 } }, toDest)).toEqual({
      type: 'LEGACY',
      data: { z: 1 },
    });
  });
});

describe('SocketStateTracker', () => {
  it('releases states only in id order across sockets', () => {
    const t = new SocketStateTracker();
    const s = (id: number, partition: number) =>
      stream('a', id, { id, partition_id: partition, sourceStats: { recordCount: 5 } });
    expect(t.onEcho(s(2, 1))).toEqual([]);
    expect(t.onEcho(s(3, 0))).toEqual([]);
    expect(t.onEcho(s(1, 0)).map((x) => (x as { id?: number }).id)).toEqual([1, 2, 3]);
    expect(t.onEcho(s(5, 0))).toEqual([]);
    expect(t.onEcho(s(2, 1))).toEqual([]);
    expect(t.heldCount).toBe(1);
    // At a clean end the destination acknowledged everything it echoed.
    expect(t.releaseAll().map((x) => (x as { id?: number }).id)).toEqual([5]);
    expect(t.statesCommitted).toBe(4);
    expect(t.recordsCommitted).toBe(20);
  });
});

describe('StateReporter', () => {
  it('sends the latest state per stream, in order, and keeps a failed batch in front', async () => {
    const sent: AirbyteStateMessage[][] = [];
    let down = true;
    const reporter = new StateReporter({
      send: async (states) => {
        if (down) throw new Error('connection refused');
        sent.push(states);
      },
      isTransient: () => true,
    });
    reporter.add(stream('a', 1));
    reporter.add(stream('b', 1));
    reporter.add(stream('a', 2));
    await reporter.flush();
    expect(sent).toEqual([]);
    expect(reporter.queued).toBe(2);
    reporter.add(stream('b', 2));
    reporter.add(global(7));
    down = false;
    await reporter.flush();
    expect(sent).toEqual([[stream('a', 2), stream('b', 2)], [global(7)]]);
    expect(reporter.persisted).toBe(3);
    expect(reporter.queued).toBe(0);
  });

  it('stops for good on a refusal (the connection was reset)', async () => {
    let refusals = 0;
    const reporter = new StateReporter({
      send: async () => {
        refusals++;
        throw new Error('CONFLICT');
      },
      isTransient: () => false,
      onPermanentFailure: () => {},
    });
    reporter.add(stream('a', 1));
    await reporter.flush();
    reporter.add(stream('a', 2));
    await reporter.flush();
    expect(refusals).toBe(1);
    expect(reporter.error).toBeInstanceOf(Error);
  });
});

describe('SyncStats in socket mode', () => {
  it('takes emitted bytes from what the destination read, and commits their share', () => {
    const stats = new SyncStats();
    stats.readByDestination('a', undefined, 100, 50_000);
    stats.addCommitted('a', undefined, 40);
    // A late (lower) count never lowers what is known.
    stats.readByDestination('a', undefined, 90, 45_000);
    expect(stats.reports()).toEqual([
      expect.objectContaining({
        stream: { name: 'a', namespace: null },
        recordsEmitted: 100,
        bytesEmitted: 50_000,
        recordsCommitted: 40,
        bytesCommitted: 20_000,
      }),
    ]);
    // States naming several streams count for none; a clean destination exit commits all it read.
    stats.readByDestination('b', 'ns', 10, 1_000);
    stats.commitAllRead();
    expect(stats.totals()).toMatchObject({
      recordsEmitted: 110,
      recordsCommitted: 110,
      bytesEmitted: 51_000,
      bytesCommitted: 51_000,
    });
  });
});
