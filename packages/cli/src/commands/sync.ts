import type { Job, Session } from '../client';
import { findConnection } from '../client';
import { CliError } from '../errors';
import { bytes, count, duration } from '../format';
import type { Io } from '../io';
import { ACTIVE, failureReason, recordsOf } from '../jobs';
import { ProgressBar } from '../progress';

export interface SyncOptions {
  wait?: boolean;
  /** Seconds to wait before giving up (the sync keeps running). */
  timeout?: number | undefined;
  intervalMs?: number;
}

function sample(job: Job) {
  const attempt = job.attempts.at(-1);
  const estimates =
    attempt?.streams.map((s) => s.estimatedRecords).filter((e): e is number => typeof e === 'number') ?? [];
  return {
    status: job.status,
    records: recordsOf(job),
    committed: job.totals?.recordsCommitted ?? 0,
    bytes: Math.max(job.totals?.bytesCommitted ?? 0, job.totals?.bytesEmitted ?? 0),
    estimated: estimates.length ? estimates.reduce((a, b) => a + b, 0) : null,
    elapsedMs: job.durationMs ?? 0,
  };
}

/** Starts a sync; with --wait, draws its progress and exits non-zero when it fails, with the reason. */
export async function sync(io: Io, session: Session, ref: string, opts: SyncOptions): Promise<number> {
  const ws = await session.workspace();
  const connection = await findConnection(session.client, ws.id, ref);
  const { jobId } = await session.client.connection.syncNow.mutate({ connectionId: connection.id });
  io.stderr.write(`Sync started: job ${jobId} (${connection.name})\n`);
  if (!opts.wait) {
    io.stdout.write(`${jobId}\n`);
    return 0;
  }
  const bar = new ProgressBar(io.stderr);
  const deadline = opts.timeout ? Date.now() + opts.timeout * 1000 : Number.POSITIVE_INFINITY;
  let job: Job;
  let rate: number | null = null;
  for (;;) {
    job = await session.client.job.get.query({ jobId });
    rate = bar.update(sample(job)) ?? rate;
    if (!ACTIVE.has(job.status)) break;
    if (Date.now() > deadline) {
      bar.done();
      throw new CliError(
        `job ${jobId} is still ${job.status} after ${opts.timeout} s (it keeps running: sluice logs ${jobId} --follow)`,
      );
    }
    await io.sleep(opts.intervalMs ?? 1000);
  }
  bar.done();
  const t = job.totals;
  const summary = `${count(t?.recordsCommitted ?? 0)} records committed (${bytes(t?.bytesCommitted ?? 0)}) in ${duration(job.durationMs)}, ${job.attempts.length} attempt${job.attempts.length === 1 ? '' : 's'}`;
  if (job.status === 'succeeded') {
    io.stdout.write(`Sync succeeded: ${summary}.\n`);
    return 0;
  }
  const reason = failureReason(job);
  io.stdout.write(`Sync ${job.status}: ${summary}.\n`);
  throw new CliError(
    job.status === 'cancelled'
      ? `the sync was cancelled (job ${jobId})`
      : `the sync failed: ${reason ?? 'no reason recorded'} (job ${jobId}; sluice logs ${jobId})`,
  );
}
