import type { Db } from '@sluice/db';
import type { Logger } from '@sluice/shared';
import { appendAttemptLogChunks } from '@sluice/workload';

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

/** Appends one of the worker's lines to the attempt log; a failure is logged, never thrown. */
export async function platformLine(
  db: Db,
  logger: Logger,
  attemptId: string,
  line: PlatformLine,
  level: 'INFO' | 'WARN' | 'ERROR',
  message: string,
): Promise<void> {
  try {
    await appendAttemptLogChunks(db, attemptId, 'platform', [
      { sequence: PLATFORM_LINE[line], text: `${new Date().toISOString()} ${level} platform > ${message}\n` },
    ]);
  } catch (err) {
    logger.warn({ err: (err as Error).message, attemptId }, 'could not append to the attempt log');
  }
}
