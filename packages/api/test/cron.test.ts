import { describe, expect, it } from 'vitest';
import { ApiError } from '../src/errors';
import {
  isValidTimeZone,
  nextCronRuns,
  toCronParserExpression,
  validateCronSchedule,
} from '../src/validation/cron';

const next = (expression: string, timeZone: string, after: string, count = 2) =>
  nextCronRuns({ expression, timeZone }, new Date(after), count).map((d) => d.toISOString());

describe('Quartz cron schedules', () => {
  it('reads Airbyte-style expressions in a time zone', () => {
    expect(next('0 0 12 * * ?', 'UTC', '2025-01-01T00:00:00Z')).toEqual([
      '2025-01-01T12:00:00.000Z',
      '2025-01-02T12:00:00.000Z',
    ]);
    // Noon in Paris is 11:00 UTC in winter and 10:00 UTC in summer.
    expect(next('0 0 12 * * ?', 'Europe/Paris', '2025-01-01T00:00:00Z', 1)).toEqual([
      '2025-01-01T11:00:00.000Z',
    ]);
    expect(next('0 0 12 * * ?', 'Europe/Paris', '2025-07-01T00:00:00Z', 1)).toEqual([
      '2025-07-01T10:00:00.000Z',
    ]);
    expect(next('0 0/15 * * * ?', 'UTC', '2025-01-01T00:00:00Z')).toEqual([
      '2025-01-01T00:15:00.000Z',
      '2025-01-01T00:30:00.000Z',
    ]);
  });

  it('numbers days of the week from Sunday = 1, as Quartz does', () => {
    // 2025-01-06 is a Monday.
    expect(next('0 0 8 ? * 2', 'UTC', '2025-01-01T00:00:00Z', 1)).toEqual(['2025-01-06T08:00:00.000Z']);
    expect(next('0 0 8 ? * MON', 'UTC', '2025-01-01T00:00:00Z', 1)).toEqual(['2025-01-06T08:00:00.000Z']);
    expect(next('0 0 8 ? * 2-6', 'UTC', '2025-01-04T00:00:00Z', 1)).toEqual(['2025-01-06T08:00:00.000Z']);
    expect(next('0 0 8 ? * 2#1', 'UTC', '2025-01-01T00:00:00Z', 2)).toEqual([
      '2025-01-06T08:00:00.000Z',
      '2025-02-03T08:00:00.000Z',
    ]);
    expect(next('0 0 8 ? * 6L', 'UTC', '2025-01-01T00:00:00Z', 1)).toEqual(['2025-01-31T08:00:00.000Z']);
    expect(next('0 0 8 L * ?', 'UTC', '2025-02-01T00:00:00Z', 1)).toEqual(['2025-02-28T08:00:00.000Z']);
    expect(toCronParserExpression('0 0 8 ? * 1,7 *')).toBe('0 0 8 ? * 0,6');
  });

  it('refuses what it cannot honour, naming the problem', () => {
    const bad = (expression: string, pattern: RegExp) => {
      let err: unknown;
      try {
        validateCronSchedule({ expression, timeZone: 'UTC' });
      } catch (e) {
        err = e;
      }
      expect(err, expression).toBeInstanceOf(ApiError);
      expect((err as ApiError).message).toMatch(pattern);
      expect((err as ApiError).details.path).toBe('schedule.expression');
    };
    bad('0 12 * * *', /expected 6 or 7 fields/);
    bad('0 0 12 * * *', /exactly one of day-of-month and day-of-week/);
    bad('0 0 12 ? * ?', /exactly one/);
    bad('*/5 * * * * ?', /seconds field/);
    bad('0 0 12 15W * ?', /W and L-n/);
    bad('0 0 12 * * ? 2030', /year field/);
    bad('0 0 12 ? * 8', /out of range 1-7/);
    bad('0 0 25 * * ?', /invalid cron expression/);
    bad('0 0 12 30 2 ?', /invalid cron expression/); // 30 February
    expect(() => validateCronSchedule({ expression: '0 0 12 * * ?', timeZone: 'Nowhere/City' })).toThrow(
      /unknown time zone/,
    );
    expect(isValidTimeZone('America/New_York')).toBe(true);
    expect(isValidTimeZone('')).toBe(false);
  });
});
