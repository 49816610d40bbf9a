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
  // Chunk sequence numbers are per writer (middleware, launcher, platform each own a range),
  // so a writer with a lower range can add chunks below the highest one already read: while
  // following, the log is re-read from the start and only unseen chunks are printed.
  let seen = new Set<number>();
  for (;;) {
    let complete = false;
    let after = -1;
    try {
      for (;;) {
        const page = await session.client.job.attemptLog.query({
          jobId,
          ...(attempt !== undefined ? { attemptNumber: attempt } : {}),
          afterSequence: after,
          limit: PAGE,
        });
        if (attempt === undefined) attempt = page.attemptNumber;
        for (const c of page.chunks) {
          if (seen.has(c.sequence)) continue;
          seen.add(c.sequence);
          io.stdout.write(c.text.endsWith('\n') ? c.text : `${c.text}\n`);
        }
        after = page.lastSequence;
        complete = page.complete;
        if (page.chunks.length < PAGE) break;
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
        seen = new Set();
        io.stdout.write(`--- attempt ${attempt + 1} ---\n`);
        continue;
      }
      if (!ACTIVE.has(job.status)) return 0;
    }
    await io.sleep(interval);
  }
}
