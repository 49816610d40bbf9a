import { nextCronRuns, toCronParserExpression } from '@sluice/api';

export type Schedule =
  | { type: 'manual' }
  | { type: 'basic'; units: number; timeUnit: 'minutes' | 'hours' | 'days' | 'weeks' | 'months' }
  | { type: 'cron'; expression: string; timeZone: string };

export interface ScheduleColumns {
  scheduleType: 'manual' | 'basic' | 'cron';
  scheduleUnits: number | null;
  scheduleTimeUnit: 'minutes' | 'hours' | 'days' | 'weeks' | 'months' | null;
  cronExpression: string | null;
  cronTimeZone: string | null;
}

export function scheduleOf(c: ScheduleColumns): Schedule {
  if (c.scheduleType === 'basic' && c.scheduleUnits && c.scheduleTimeUnit) {
    return { type: 'basic', units: c.scheduleUnits, timeUnit: c.scheduleTimeUnit };
  }
  if (c.scheduleType === 'cron' && c.cronExpression) {
    return { type: 'cron', expression: c.cronExpression, timeZone: c.cronTimeZone ?? 'UTC' };
  }
  return { type: 'manual' };
}

const UNIT_MS = {
  minutes: 60_000,
  hours: 3_600_000,
  days: 86_400_000,
  weeks: 7 * 86_400_000,
  // Airbyte counts a month as 30 days for basic schedules.
  months: 30 * 86_400_000,
} as const;

export function basicIntervalMs(units: number, timeUnit: keyof typeof UNIT_MS): number {
  return units * UNIT_MS[timeUnit];
}

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/**
 * Refuses a cron schedule that would fire more often than once per `minIntervalMs`: the
 * expression's next few instants must be that far apart (the API's Quartz validation already
 * allows one second value only, so this holds for every expression it accepts).
 */
export function assertCronInterval(
  schedule: Extract<Schedule, { type: 'cron' }>,
  from: Date,
  minIntervalMs: number,
): void {
  const runs = nextCronRuns(schedule, from, 5, toCronParserExpression(schedule.expression));
  for (let i = 1; i < runs.length; i++) {
    const gap = runs[i]!.getTime() - runs[i - 1]!.getTime();
    if (gap < minIntervalMs) {
      throw new ScheduleError(
        `cron schedule "${schedule.expression}" fires ${gap / 1000} s apart; syncs must be at least ${minIntervalMs / 1000} s apart`,
      );
    }
  }
}

export interface DueInput {
  /** The scheduled instant the previous scheduled sync ran for (epoch ms), if any. */
  lastDueAt: number | null;
  /** Creation time of the connection's latest sync or reset job, if any. */
  lastJobCreatedAt: number | null;
  now: number;
  minIntervalMs: number;
  /** Divides basic intervals (tests). */
  timeScale: number;
}

/**
 * When the next scheduled sync is due (epoch ms), or null for a manual schedule. As in
 * Airbyte: a basic schedule runs `interval` after the previous job started (at once when there
 * was none); a cron schedule runs at its next instant after now, so instants missed while a
 * sync ran past them are skipped rather than queued. Two scheduled syncs are never closer than
 * the minimum interval.
 */
export function nextDue(schedule: Schedule, d: DueInput): number | null {
  const minGap = d.minIntervalMs / d.timeScale;
  const floor = d.lastDueAt === null ? Number.NEGATIVE_INFINITY : d.lastDueAt + minGap;
  if (schedule.type === 'manual') return null;
  if (schedule.type === 'basic') {
    const interval = Math.max(basicIntervalMs(schedule.units, schedule.timeUnit) / d.timeScale, minGap);
    const base = d.lastJobCreatedAt === null ? d.now : d.lastJobCreatedAt + interval;
    return Math.max(base, floor);
  }
  // The first instant strictly after max(now, floor - 1ms).
  let after = Math.max(d.now, floor - 1);
  for (let guard = 0; guard < 1000; guard++) {
    const [next] = nextCronRuns(schedule, new Date(after), 1);
    if (!next) return null;
    const t = next.getTime();
    if (t >= floor) return t;
    after = t;
  }
  return null;
}
