import { describe, expect, it } from 'vitest';
import {
  choiceProblems,
  type DiscoveredStream,
  defaultChoice,
  mergeChoices,
  modeOptions,
  toCatalogInput,
  withMode,
} from './catalog';
import { formatBytes, formatCount, formatDuration, formatRelative } from './format';
import { describeFailure, estimateProgress, jobFailure, rowsPerSecond } from './jobs';

const users: DiscoveredStream = {
  name: 'users',
  json_schema: { properties: { id: {}, email: {}, updated_at: {} } },
  supported_sync_modes: ['full_refresh', 'incremental'],
  source_defined_cursor: true,
  default_cursor_field: ['updated_at'],
  source_defined_primary_key: [['id']],
};
const events: DiscoveredStream = {
  name: 'events',
  namespace: 'app',
  json_schema: { properties: { id: {}, at: {} } },
  supported_sync_modes: ['full_refresh', 'incremental'],
};

describe('stream choices', () => {
  it('defaults like Airbyte: dedup with a cursor and key, else full refresh + overwrite', () => {
    expect(defaultChoice(users, ['append', 'overwrite', 'append_dedup'])).toMatchObject({
      syncMode: 'incremental',
      destinationSyncMode: 'append_dedup',
      cursorField: ['updated_at'],
      primaryKey: [['id']],
    });
    expect(defaultChoice(users, ['append', 'overwrite'])).toMatchObject({
      syncMode: 'full_refresh',
      destinationSyncMode: 'overwrite',
    });
    expect(defaultChoice(events, [])).toMatchObject({
      stream: { name: 'events', namespace: 'app' },
      syncMode: 'full_refresh',
    });
  });

  it('offers the modes both sides support, and asks for a cursor or key when the mode needs one', () => {
    expect(modeOptions(events, ['overwrite', 'append']).map((o) => o.label)).toEqual([
      'Full refresh | Overwrite',
      'Incremental | Append',
      'Full refresh | Append',
    ]);
    const incremental = withMode(defaultChoice(events, []), events, 'incremental:append_dedup');
    expect(choiceProblems(incremental, events)).toEqual([
      'Choose a cursor field for incremental sync.',
      'Choose a primary key: this sync mode deduplicates on it.',
    ]);
    const fixed = { ...incremental, cursorField: ['at'], primaryKey: [['id']], selectedFields: ['id'] };
    expect(choiceProblems(fixed, events)).toEqual(['The cursor field at must stay selected.']);
    expect(choiceProblems({ ...fixed, selectedFields: undefined }, events)).toEqual([]);
  });

  it('keeps current choices, adds new streams unselected, and builds the API input', () => {
    const current = [
      {
        ...defaultChoice(users, []),
        selected: true,
        syncMode: 'full_refresh' as const,
        destinationSyncMode: 'append' as const,
      },
    ];
    const merged = mergeChoices([users, events], current, []);
    expect(merged.map((c) => [c.stream.name, c.selected, c.destinationSyncMode])).toEqual([
      ['users', true, 'append'],
      ['events', false, 'overwrite'],
    ]);
    expect(toCatalogInput(merged).streams[1]).toEqual({
      stream: { name: 'events', namespace: 'app' },
      selected: false,
      syncMode: 'full_refresh',
      destinationSyncMode: 'overwrite',
    });
  });
});

describe('jobs and formatting', () => {
  it('finds the failure reason of the last failed attempt', () => {
    const job = {
      attempts: [
        {
          attemptNumber: 0,
          status: 'failed',
          failureSummary: { failures: [{ externalMessage: 'first', failureOrigin: 'source' }] },
        },
        {
          attemptNumber: 1,
          status: 'failed',
          failureSummary: {
            failures: [
              { externalMessage: 'disk full', failureOrigin: 'destination', failureType: 'system_error' },
            ],
          },
        },
      ],
    };
    expect(describeFailure(jobFailure(job)!)).toBe('disk full (destination, system error)');
    expect(jobFailure({ attempts: [] })).toBeNull();
  });

  it('measures rows per second over a window, and progress against an estimate', () => {
    expect(rowsPerSecond([{ t: 0, records: 0 }])).toBeNull();
    expect(
      rowsPerSecond([
        { t: 0, records: 0 },
        { t: 5000, records: 500 },
        { t: 10_000, records: 2000 },
      ]),
    ).toBe(200);
    expect(
      rowsPerSecond(
        [
          { t: 0, records: 0 },
          { t: 20_000, records: 100 },
          { t: 25_000, records: 600 },
        ],
        10_000,
      ),
    ).toBe(100);
    expect(estimateProgress(50, 200)).toBe(0.25);
    expect(estimateProgress(300, 200)).toBe(1);
    expect(estimateProgress(5, null)).toBeNull();
  });

  it('formats counts, bytes, durations and relative times', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatBytes(1_500_000)).toBe('1.50 MB');
    expect(formatDuration(9_500)).toBe('9.5 s');
    expect(formatDuration(125_000)).toBe('2m 05s');
    expect(formatRelative('2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:03:00Z'))).toBe('3 minutes ago');
  });
});
