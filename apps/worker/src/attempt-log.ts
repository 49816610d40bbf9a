import type { Db } from '@sluice/db';
import type { Logger } from '@sluice/shared';
import { appendAttemptLogChunks, PLATFORM_LINE, type PlatformLine } from '@sluice/workload';

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
