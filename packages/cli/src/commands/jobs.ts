import type { Session } from '../client';
import { findConnection } from '../client';
import { bytes, count, duration, table, truncate } from '../format';
import type { Io } from '../io';
import { failureReason } from '../jobs';

export interface JobsOptions {
  connection?: string | undefined;
  limit?: number | undefined;
  status?: string[] | undefined;
  json?: boolean;
}

const STATUSES = ['pending', 'running', 'incomplete', 'failed', 'succeeded', 'cancelled'] as const;

/** The workspace's (or a connection's) jobs, newest first. */
export async function jobs(io: Io, session: Session, opts: JobsOptions): Promise<number> {
  const ws = await session.workspace();
  const connection = opts.connection ? await findConnection(session.client, ws.id, opts.connection) : null;
  const statuses = opts.status?.filter((s): s is (typeof STATUSES)[number] =>
    (STATUSES as readonly string[]).includes(s),
  );
  const page = await session.client.job.list.query({
    workspaceId: ws.id,
    ...(connection ? { connectionId: connection.id } : {}),
    ...(statuses?.length ? { statuses } : {}),
    limit: opts.limit ?? 20,
  });
  if (opts.json) {
    io.stdout.write(`${JSON.stringify(page.items, null, 2)}\n`);
    return 0;
  }
  if (page.items.length === 0) {
    io.stdout.write('No jobs.\n');
    return 0;
  }
  const names = new Map(
    (await session.client.connection.list.query({ workspaceId: ws.id })).map((c) => [c.id, c.name]),
  );
  const rows = page.items.map((j) => [
    j.id,
    j.type,
    j.status,
    truncate(
      j.connectionId
        ? (names.get(j.connectionId) ?? j.connectionId.slice(0, 8))
        : j.sourceId
          ? 'source'
          : 'destination',
      30,
    ),
    (j.startedAt ?? j.createdAt).replace('T', ' ').slice(0, 19),
    duration(j.durationMs),
    count(j.totals?.recordsCommitted ?? null),
    bytes(j.totals?.bytesCommitted ?? null),
    String(j.attempts.length),
    j.status === 'failed' || j.status === 'incomplete' ? truncate(failureReason(j) ?? '', 60) : '',
  ]);
  io.stdout.write(
    `${table(
      ['JOB', 'TYPE', 'STATUS', 'FOR', 'STARTED (UTC)', 'DURATION', 'RECORDS', 'BYTES', 'ATTEMPTS', 'REASON'],
      rows,
      new Set(['DURATION', 'RECORDS', 'BYTES', 'ATTEMPTS']),
    )}\n`,
  );
  if (page.nextCursor) io.stderr.write(`(more: --limit ${Math.min(100, (opts.limit ?? 20) * 2)})\n`);
  return 0;
}
