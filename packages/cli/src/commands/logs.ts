import type { Session } from '../client';
import { findConnection } from '../client';
import { CliError, errorCode } from '../errors';
import type { Io } from '../io';
import { ACTIVE } from '../jobs';

export interface LogsOptions {
  connection?: string | undefined;
  attempt?: number | undefined;
  follow?: boolean;
  intervalMs?: number;
}

const PAGE = 1000;

/**
 * Prints an attempt's log (the latest attempt unless --attempt). With --follow, keeps reading
 * while the attempt runs, and moves on to the next attempt when the job retries.
 */
export async function logs(
  io: Io,
  session: Session,
  jobRef: string | undefined,
  opts: LogsOptions,
): Promise<number> {
  let jobId = jobRef;
  if (!jobId) {
    if (!opts.connection)
      throw new CliError('which job? pass a job id, or --connection <name> for its latest sync');
    const ws = await session.workspace();
    const connection = await findConnection(session.client, ws.id, opts.connection);
    const page = await session.client.job.list.query({
      workspaceId: ws.id,
      connectionId: connection.id,
      types: ['sync', 'reset'],
      limit: 1,
    });
    jobId = page.items[0]?.id;
    if (!jobId) throw new CliError(`connection ${connection.name} has no sync yet`);
  }
  let attempt = opts.attempt;
  const interval = opts.intervalMs ?? 1000;
  // The API's cursor records how far each writer's chunks were read (and pins the attempt):
  // following with it prints every chunk once, in the order it was written.
  let cursor: string | null = null;
  for (;;) {
    let complete = false;
    try {
      for (;;) {
        const page = await session.client.job.attemptLog.query({
          jobId,
          ...(attempt !== undefined ? { attemptNumber: attempt } : {}),
          cursor,
          limit: PAGE,
        });
        if (attempt === undefined) attempt = page.attemptNumber;
        for (const c of page.chunks) io.stdout.write(c.text.endsWith('\n') ? c.text : `${c.text}\n`);
        cursor = page.cursor;
        complete = page.complete;
        if (complete || page.chunks.length < PAGE) break;
      }
    } catch (err) {
      // A job that has not started an attempt yet: wait for it when following.
      if (opts.follow && errorCode(err) === 'NOT_FOUND' && /no attempt/.test((err as Error).message)) {
        await io.sleep(interval);
        continue;
      }
      throw err;
    }
    if (!opts.follow) return 0;
    if (complete) {
      // The attempt ended; a job that retries starts the next one.
      if (opts.attempt !== undefined) return 0;
      const job = await session.client.job.get.query({ jobId });
      const next = job.attempts.find((a) => a.attemptNumber > (attempt ?? -1));
      if (next) {
        attempt = next.attemptNumber;
        cursor = null;
        io.stdout.write(`--- attempt ${attempt + 1} ---\n`);
        continue;
      }
      if (!ACTIVE.has(job.status)) return 0;
    }
    await io.sleep(interval);
  }
}
