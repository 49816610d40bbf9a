import { describe, expect, it } from 'vitest';
import { configuredCatalogFor, nextGenerations } from '../src/catalog';
import { countFailure, DEFAULT_CONFIG, NO_FAILURES, type RetryCounters, retryDecision } from '../src/config';
import { assertCronInterval, nextDue, ScheduleError } from '../src/schedule';
import { testCatalog } from './helpers';

const at = (iso: string) => Date.parse(iso);
const base = { lastDueAt: null, lastJobCreatedAt: null, minIntervalMs: 60_000, timeScale: 1 };

describe('next scheduled sync', () => {
  it('manual schedules never fire', () => {
    expect(nextDue({ type: 'manual' }, { ...base, now: Date.now() })).toBeNull();
  });

  it('basic schedules run at once without a previous job, then an interval after the last job started', () => {
    const now = at('2025-01-10T10:00:00Z');
    expect(nextDue({ type: 'basic', units: 2, timeUnit: 'hours' }, { ...base, now })).toBe(now);
    expect(
      nextDue(
        { type: 'basic', units: 2, timeUnit: 'hours' },
        { ...base, now, lastJobCreatedAt: at('2025-01-10T09:30:00Z') },
      ),
    ).toBe(at('2025-01-10T11:30:00Z'));
    // A month counts 30 days; an overdue one runs now (its due time is in the past).
    expect(
      nextDue(
        { type: 'basic', units: 1, timeUnit: 'months' },
        { ...base, now, lastJobCreatedAt: at('2024-12-01T10:00:00Z') },
      ),
    ).toBe(at('2024-12-31T10:00:00Z'));
  });

  it('cron schedules fire at their next instant in their time zone (daylight saving included)', () => {
    const nine = { type: 'cron' as const, expression: '0 0 9 * * ?', timeZone: 'Europe/Paris' };
    expect(nextDue(nine, { ...base, now: at('2025-01-10T10:00:00Z') })).toBe(at('2025-01-11T08:00:00Z'));
    expect(nextDue(nine, { ...base, now: at('2025-07-10T10:00:00Z') })).toBe(at('2025-07-11T07:00:00Z'));
    const kolkata = { type: 'cron' as const, expression: '0 30 6 ? * MON-FRI', timeZone: 'Asia/Kolkata' };
    // Friday 2025-01-10 01:00Z is 06:30 IST: next is Monday 06:30 IST = 01:00Z.
    expect(nextDue(kolkata, { ...base, now: at('2025-01-10T01:00:00Z') })).toBe(at('2025-01-13T01:00:00Z'));
  });

  it('skips cron instants missed while a sync ran, and never fires twice within the minimum gap', () => {
    const everyMinute = { type: 'cron' as const, expression: '0 * * * * ?', timeZone: 'UTC' };
    const due = at('2025-01-10T10:00:00Z');
    // Right after a sync for 10:00: next is 10:01.
    expect(nextDue(everyMinute, { ...base, lastDueAt: due, now: due + 300 })).toBe(due + 60_000);
    // The sync ran past 10:01 and 10:02: the next one is 10:03.
    expect(nextDue(everyMinute, { ...base, lastDueAt: due, now: due + 150_000 })).toBe(due + 180_000);
    // With a 5-minute floor, every-minute instants closer than that are skipped.
    expect(nextDue(everyMinute, { ...base, minIntervalMs: 300_000, lastDueAt: due, now: due + 1000 })).toBe(
      due + 300_000,
    );
  });

  it('refuses a cron schedule firing more often than the minimum interval', () => {
    const from = new Date(at('2025-01-10T10:00:00Z'));
    expect(() =>
      assertCronInterval({ type: 'cron', expression: '0 * * * * ?', timeZone: 'UTC' }, from, 60_000),
    ).not.toThrow();
    expect(() =>
      assertCronInterval({ type: 'cron', expression: '0 * * * * ?', timeZone: 'UTC' }, from, 120_000),
    ).toThrow(ScheduleError);
  });
});

describe("Airbyte's attempt retry rules", () => {
  const cfg = DEFAULT_CONFIG.retry;
  const after = (progress: boolean[]) =>
    progress.reduce<RetryCounters>((c, p) => countFailure(c, p), NO_FAILURES);

  it('backs off 10 s × 3^(n-1) up to 30 min after failures without progress, and stops after 5 in a row', () => {
    const delays = [1, 2, 3, 4].map((n) => retryDecision(after(Array(n).fill(false)), cfg));
    expect(delays).toEqual([
      { retry: true, backoffMs: 10_000 },
      { retry: true, backoffMs: 30_000 },
      { retry: true, backoffMs: 90_000 },
      { retry: true, backoffMs: 270_000 },
    ]);
    expect(retryDecision(after(Array(5).fill(false)), cfg)).toMatchObject({ retry: false });
    expect(
      retryDecision(after(Array(4).fill(false)), { ...cfg, completeFailureBackoffMinMs: 1_000_000 }),
    ).toEqual({
      retry: true,
      backoffMs: cfg.completeFailureBackoffMaxMs,
    });
  });

  it('retries failures with progress at once, up to 20 attempts', () => {
    expect(retryDecision(after([true]), cfg)).toEqual({ retry: true, backoffMs: 0 });
    expect(retryDecision(after(Array(19).fill(true)), cfg)).toMatchObject({ retry: true });
    expect(retryDecision(after(Array(20).fill(true)), cfg)).toMatchObject({ retry: false });
    // Progress resets the run of failures without progress.
    expect(
      retryDecision(after([false, false, false, false, true, false, false, false, false]), cfg),
    ).toMatchObject({ retry: true });
    // …but not the total: a tenth failure without progress ends the job.
    expect(
      retryDecision(
        after([false, false, false, false, true, false, false, false, false, true, false, false]),
        cfg,
      ),
    ).toMatchObject({
      retry: false,
      reason: '10 attempts failed without progress',
    });
  });
});

describe('catalog of a sync', () => {
  it('bumps generations of truncated streams only and sends overwrite_dedup as append_dedup', () => {
    const streams = [{ name: 'users' }, { name: 'products' }, { name: 'orders', namespace: 'shop' }];
    const modes = new Map([
      ['\u0000users', 'append_dedup'],
      ['\u0000products', 'overwrite'],
      ['shop\u0000orders', 'overwrite_dedup'],
    ]);
    const prev = [
      { stream: { name: 'users' }, generationId: 3, minimumGenerationId: 0 },
      { stream: { name: 'products' }, generationId: 7, minimumGenerationId: 7 },
    ];
    const gens = nextGenerations(streams, modes, prev, null);
    expect(gens.map((g) => [g.stream.name, g.generationId, g.minimumGenerationId])).toEqual([
      ['users', 3, 0],
      ['products', 8, 8],
      ['orders', 1, 1],
    ]);
    const reset = nextGenerations([{ name: 'users' }], modes, prev, new Set(['\u0000users']));
    expect(reset.map((g) => [g.generationId, g.minimumGenerationId])).toEqual([[4, 4]]);

    const catalog = configuredCatalogFor({
      catalog: {
        streams: [
          {
            stream: { name: 'users' },
            selected: true,
            syncMode: 'incremental',
            destinationSyncMode: 'overwrite_dedup' as never,
            primaryKey: [['id']],
          },
          {
            stream: { name: 'products' },
            selected: false,
            syncMode: 'full_refresh',
            destinationSyncMode: 'overwrite',
          },
        ],
      },
      discovered: testCatalog(),
      resetStreams: null,
      generations: gens,
      syncId: 42,
    });
    expect(catalog.streams).toHaveLength(1);
    expect(catalog.streams[0]).toMatchObject({
      destination_sync_mode: 'append_dedup',
      generation_id: 3,
      sync_id: 42,
    });
  });
});
