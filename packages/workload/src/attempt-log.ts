import type { DbOrTx } from '@sluice/db';
import { WorkloadError } from './errors';
import {
  LOG_SLOT_STRIDE,
  LOG_WRITER_BASE,
  type LogChunk,
  LogWriter,
  MAX_LOG_SEQUENCE,
  MAX_LOG_SLOT,
} from './types';

/**
 * Attempt logs in `attempt_log_chunks`: the one writer path and the one reader of them.
 *
 * Every writer (middleware, api, launcher, platform) numbers its chunks 0, 1, 2… and appends
 * them one call after the other, so a writer's chunks become visible in the order of their
 * numbers. The middleware and the launcher write per workload, and an attempt may run several
 * (a sync's discover, then the sync): each workload numbers from 0 in its own slot of the
 * writer's range. Writers run concurrently: a launcher chunk may be committed after middleware
 * chunks that were read already. A single "last sequence" cursor would then skip chunks, so the
 * cursor keeps how far each writer (and slot) has been read, and a page is merged from every
 * writer's next chunks in the order they were written.
 */

/** Writers in the order their chunks are shown when written at the same instant. */
export const LOG_WRITERS = LogWriter.options;

export interface AttemptLogEntry {
  writer: LogWriter;
  /** The writer's own chunk number (of its workload, for the middleware and the launcher). */
  sequence: number;
  /** The workload's place among the attempt's workloads (0 for the API's and worker's lines). */
  slot: number;
  text: string;
  createdAt: Date;
}

export interface AttemptLogPage {
  entries: AttemptLogEntry[];
  /** Pass back as `cursor` to read what follows; opaque. */
  cursor: string;
  /** More chunks are stored after this page (read again at once). */
  more: boolean;
}

/** Postgres text cannot hold NUL; a connector's log can. */
const cleanText = (s: string) => (s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s);

/**
 * Stores chunks of one writer (retried chunks, already stored, are skipped) and marks the
 * attempt's log as kept in the database. Returns how many were new.
 */
export async function appendAttemptLogChunks(
  db: DbOrTx,
  attemptId: string,
  writer: LogWriter,
  chunks: readonly LogChunk[],
  opts: { slot?: number } = {},
): Promise<number> {
  if (chunks.length === 0) return 0;
  const slot = Math.max(0, Math.min(MAX_LOG_SLOT, Math.trunc(opts.slot ?? 0)));
  const base = LOG_WRITER_BASE[writer] + slot * LOG_SLOT_STRIDE;
  for (const c of chunks) {
    if (!Number.isInteger(c.sequence) || c.sequence < 0 || c.sequence > MAX_LOG_SEQUENCE) {
      throw new WorkloadError(
        'BAD_REQUEST',
        `chunks: sequence ${c.sequence} is outside 0…${MAX_LOG_SEQUENCE}`,
        { path: 'chunks' },
      );
    }
  }
  const result = await db.attemptLogChunk.createMany({
    data: chunks.map((c) => ({ attemptId, sequence: base + c.sequence, text: cleanText(c.text) })),
    skipDuplicates: true,
  });
  await db.attempt.updateMany({ where: { id: attemptId, logLocation: null }, data: { logLocation: 'db' } });
  return result.count;
}

/**
 * Chunk numbers of the worker's own lines in an attempt's log (writer `platform`, whose range
 * keeps them apart from the middleware's, the launcher's and the API's). Each line has a fixed
 * number, so a step replayed after a crash writes the same chunk again and the store skips it.
 */
export const PLATFORM_LINE = {
  started: 0,
  discover: 1,
  schema: 2,
  sync: 3,
  ended: 4,
} as const;
export type PlatformLine = keyof typeof PLATFORM_LINE;

/** Whether the worker's closing line of an attempt ("attempt N succeeded: …") is stored. */
export async function hasClosingLine(db: DbOrTx, attemptId: string): Promise<boolean> {
  const chunk = await db.attemptLogChunk.findFirst({
    where: { attemptId, sequence: LOG_WRITER_BASE.platform + PLATFORM_LINE.ended },
    select: { sequence: true },
  });
  return chunk !== null;
}

/** How far each writer was read: the last chunk number per slot (a slot not listed: none). */
type Progress = Record<LogWriter, Map<number, number>>;

interface DecodedCursor {
  attemptId: string | null;
  last: Progress;
}

const emptyProgress = (): Progress => ({
  middleware: new Map(),
  api: new Map(),
  launcher: new Map(),
  platform: new Map(),
});

export function encodeLogCursor(attemptId: string, last: Progress): string {
  const s = LOG_WRITERS.map((w) => [...last[w].entries()].sort((a, b) => a[0] - b[0]).flat());
  return Buffer.from(JSON.stringify({ a: attemptId, s }), 'utf8').toString('base64url');
}

const isInt = (n: unknown, min: number, max: number): n is number =>
  Number.isInteger(n) && (n as number) >= min && (n as number) <= max;

/** Parses a cursor this module issued; a bad one is a BAD_REQUEST naming the field. */
export function decodeLogCursor(cursor: string | null | undefined): DecodedCursor {
  if (!cursor) return { attemptId: null, last: emptyProgress() };
  const bad = () =>
    new WorkloadError('BAD_REQUEST', 'cursor: not a log cursor this API issued', { path: 'cursor' });
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  const v = value as { a?: unknown; s?: unknown };
  if (
    typeof v !== 'object' ||
    v === null ||
    typeof v.a !== 'string' ||
    !Array.isArray(v.s) ||
    v.s.length !== LOG_WRITERS.length
  ) {
    throw bad();
  }
  const last = emptyProgress();
  LOG_WRITERS.forEach((w, i) => {
    const pairs = (v.s as unknown[])[i];
    if (!Array.isArray(pairs) || pairs.length % 2 !== 0) throw bad();
    for (let j = 0; j < pairs.length; j += 2) {
      const slot = pairs[j];
      const n = pairs[j + 1];
      if (!isInt(slot, 0, MAX_LOG_SLOT) || !isInt(n, 0, MAX_LOG_SEQUENCE)) throw bad();
      last[w].set(slot, n);
    }
  });
  return { attemptId: v.a, last };
}

/**
 * A page of an attempt's log after `cursor` (from the start without one): at most `limit`
 * chunks, in the order they were written (by time; a writer's chunks always in their order).
 * Exact under concurrent writers: whatever a writer stores later — even with an earlier
 * timestamp than chunks already read — comes with a later page, and nothing comes twice.
 */
export async function readAttemptLog(
  db: DbOrTx,
  attemptId: string,
  opts: { cursor?: string | null; limit?: number } = {},
): Promise<AttemptLogPage> {
  const limit = Math.max(1, Math.min(opts.limit ?? 1000, 10_000));
  const decoded = decodeLogCursor(opts.cursor);
  if (decoded.attemptId !== null && decoded.attemptId !== attemptId) {
    throw new WorkloadError('BAD_REQUEST', 'cursor: the cursor belongs to another attempt', {
      path: 'cursor',
    });
  }
  const last = decoded.last;
  // Each writer's next chunks by number, skipping what was read of each slot: every slot's part
  // is a prefix of what it has not had read. Merged by time from the heads of every slot, which
  // keeps each slot's part of the page a prefix too.
  const rows = await Promise.all(
    LOG_WRITERS.map((writer) => {
      const base = LOG_WRITER_BASE[writer];
      return db.attemptLogChunk.findMany({
        where: {
          attemptId,
          sequence: { gte: base, lte: base + (MAX_LOG_SLOT + 1) * LOG_SLOT_STRIDE - 1 },
          NOT: [...last[writer].entries()].map(([slot, n]) => ({
            sequence: { gte: base + slot * LOG_SLOT_STRIDE, lte: base + slot * LOG_SLOT_STRIDE + n },
          })),
        },
        orderBy: { sequence: 'asc' },
        take: limit + 1,
      });
    }),
  );
  interface Head {
    writer: LogWriter;
    slot: number;
    rows: { sequence: number; text: string; createdAt: Date }[];
    pos: number;
  }
  const heads: Head[] = [];
  rows.forEach((list, i) => {
    const writer = LOG_WRITERS[i]!;
    for (const row of list) {
      const slot = Math.floor((row.sequence - LOG_WRITER_BASE[writer]) / LOG_SLOT_STRIDE);
      let h = heads.at(-1);
      if (!h || h.writer !== writer || h.slot !== slot) {
        h = { writer, slot, rows: [], pos: 0 };
        heads.push(h);
      }
      h.rows.push(row);
    }
  });
  const entries: AttemptLogEntry[] = [];
  const next: Progress = emptyProgress();
  for (const w of LOG_WRITERS) for (const [slot, n] of last[w]) next[w].set(slot, n);
  while (entries.length < limit) {
    let pick: Head | undefined;
    for (const h of heads) {
      const row = h.rows[h.pos];
      if (row && (!pick || row.createdAt.getTime() < pick.rows[pick.pos]!.createdAt.getTime())) pick = h;
    }
    if (!pick) break;
    const row = pick.rows[pick.pos]!;
    pick.pos++;
    const sequence = row.sequence - LOG_WRITER_BASE[pick.writer] - pick.slot * LOG_SLOT_STRIDE;
    next[pick.writer].set(pick.slot, sequence);
    entries.push({
      writer: pick.writer,
      sequence,
      slot: pick.slot,
      text: row.text,
      createdAt: row.createdAt,
    });
  }
  const more = heads.some((h) => h.pos < h.rows.length);
  return { entries, cursor: encodeLogCursor(attemptId, next), more };
}
