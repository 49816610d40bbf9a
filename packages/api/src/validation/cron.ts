import { CronExpressionParser } from 'cron-parser';
import { ApiError } from '../errors';

/**
 * Cron schedules use Quartz syntax, as Airbyte does, so expressions copied from Airbyte work:
 *
 *   second minute hour day-of-month month day-of-week [year]
 *
 * - day-of-week is 1-7 with 1 = Sunday (or SUN-SAT); `?` in exactly one of day-of-month and
 *   day-of-week; `L` (last day of month, or `6L` last Friday) and `#` (`2#1` first Monday).
 * - seconds must be a single number: a connection never syncs more than once a minute.
 * - the optional year field must be `*`; the nearest-weekday forms (`15W`, `LW`) and `L-n`
 *   are refused with a clear message rather than silently misread.
 *
 * The expression is evaluated in an IANA time zone (`Europe/Paris`, `UTC`), DST included.
 */

const DOW_NAMES = /^(SUN|MON|TUE|WED|THU|FRI|SAT)$/;
const MONTH_NAMES = /^(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)$/;

function invalid(message: string, path: string): ApiError {
  return new ApiError('BAD_REQUEST', `invalid cron expression: ${message}`, { path });
}

export function isValidTimeZone(timeZone: string): boolean {
  if (!timeZone || timeZone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Quartz's day-of-week numbers (1 = Sunday) → cron-parser's (0 = Sunday). */
function translateDayOfWeek(field: string, path: string): string {
  return field
    .split(',')
    .map((part) => {
      const [range, step] = part.split('/');
      if (range === undefined) throw invalid('empty day-of-week', path);
      if (step !== undefined && !/^\d+$/.test(step)) throw invalid(`bad step "${step}" in day-of-week`, path);
      const shift = (token: string): string => {
        if (token === '*' || token === '?' || DOW_NAMES.test(token)) return token;
        if (!/^\d+$/.test(token)) throw invalid(`"${token}" is not a day of week (1-7 or SUN-SAT)`, path);
        const n = Number(token);
        if (n < 1 || n > 7) throw invalid(`day-of-week ${n} is out of range 1-7 (1 = Sunday)`, path);
        return String(n - 1);
      };
      let out: string;
      const nth = /^([A-Z0-9]+)#([1-5])$/.exec(range);
      const last = /^([A-Z0-9]*)L$/.exec(range);
      if (nth) out = `${shift(nth[1]!)}#${nth[2]}`;
      else if (last)
        out = last[1] ? `${shift(last[1])}L` : '6'; // a bare L is Saturday
      else out = range.split('-').map(shift).join('-');
      return step === undefined ? out : `${out}/${step}`;
    })
    .join(',');
}

export interface CronSchedule {
  expression: string;
  timeZone: string;
}

/** Parses a Quartz expression into cron-parser's six-field syntax, or throws a BAD_REQUEST naming `path`. */
export function toCronParserExpression(expression: string, path = 'schedule.expression'): string {
  const fields = expression.trim().toUpperCase().split(/\s+/);
  if (fields.length < 6 || fields.length > 7) {
    throw invalid(
      `expected 6 or 7 fields (second minute hour day-of-month month day-of-week [year]), got ${fields.length}`,
      path,
    );
  }
  const [sec, min, hour, dom, month, dow, year] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (year !== undefined && year !== '*')
    throw invalid('the year field is not supported; use * or leave it out', path);
  if (!/^\d{1,2}$/.test(sec) || Number(sec) > 59) {
    throw invalid('the seconds field must be a single number 0-59 (at most one sync a minute)', path);
  }
  if ((dom === '?') === (dow === '?')) {
    throw invalid('use ? in exactly one of day-of-month and day-of-week (e.g. "0 0 12 * * ?")', path);
  }
  if (/W/.test(dom) || /^L-/.test(dom)) throw invalid('W and L-n day-of-month forms are not supported', path);
  for (const [name, value] of [
    ['minute', min],
    ['hour', hour],
    ['day-of-month', dom],
  ] as const) {
    if (!/^[0-9*?,/L-]+$/.test(value)) throw invalid(`bad ${name} field "${value}"`, path);
  }
  for (const part of month.split(/[,/-]/)) {
    if (part !== '*' && !/^\d+$/.test(part) && !MONTH_NAMES.test(part)) {
      throw invalid(`bad month field "${month}"`, path);
    }
  }
  const translated = [sec, min, hour, dom, month, translateDayOfWeek(dow, path)].join(' ');
  try {
    CronExpressionParser.parse(translated, { tz: 'UTC', currentDate: new Date() });
  } catch (err) {
    throw invalid((err as Error).message, path);
  }
  return translated;
}

/** Validates a cron schedule; throws a BAD_REQUEST naming the field at fault. */
export function validateCronSchedule(schedule: CronSchedule, pathPrefix = 'schedule'): void {
  if (!isValidTimeZone(schedule.timeZone)) {
    throw new ApiError(
      'BAD_REQUEST',
      `unknown time zone "${schedule.timeZone.slice(0, 64)}" (use an IANA name such as UTC or Europe/Paris)`,
      {
        path: `${pathPrefix}.timeZone`,
      },
    );
  }
  const expression = toCronParserExpression(schedule.expression, `${pathPrefix}.expression`);
  // A syntactically valid expression can still never fire (30 February).
  if (nextCronRuns(schedule, new Date(), 1, expression).length === 0) {
    throw invalid('the expression never fires', `${pathPrefix}.expression`);
  }
}

/**
 * The next `count` times a cron schedule fires after `after`: the worker's scheduler uses this
 * so the API and the scheduler read expressions the same way.
 */
export function nextCronRuns(schedule: CronSchedule, after: Date, count = 1, translated?: string): Date[] {
  const expression = translated ?? toCronParserExpression(schedule.expression);
  const it = CronExpressionParser.parse(expression, { tz: schedule.timeZone, currentDate: after });
  const out: Date[] = [];
  try {
    for (let i = 0; i < count; i++) out.push(it.next().toDate());
  } catch {
    // cron-parser gives up after scanning years ahead without a match.
  }
  return out;
}
