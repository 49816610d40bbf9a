'use client';

import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { Fragment, useEffect, useMemo, useRef, useState } from 'react';
import { type Attempt, api, type Job } from '../client/api';
import {
  formatBytes,
  formatCount,
  formatDateTime,
  formatDuration,
  formatRate,
  formatRelative,
  streamLabel,
} from '../lib/format';
import {
  ACTIVE_JOB_STATUSES,
  describeFailure,
  estimateProgress,
  failuresOf,
  jobFailure,
  type RateSample,
  rowsPerSecond,
} from '../lib/jobs';
import { BarChart } from './charts';
import { ErrorBox, Loading, StatusBadge, useNow } from './ui';

const isActive = (status: string | undefined) => Boolean(status && ACTIVE_JOB_STATUSES.has(status));

/** job.get, polled every second while the job runs. */
export function useJob(jobId: string | null) {
  return useQuery({
    queryKey: ['job.get', { jobId }],
    queryFn: () => api.job.get.query({ jobId: jobId! }),
    enabled: Boolean(jobId),
    staleTime: 0,
    refetchInterval: (q) => jobRefetchInterval(q.state.data),
  });
}

/**
 * Every second while a job runs, and every two seconds for a little while after it ended:
 * its final stats can land just after its status.
 */
export function jobRefetchInterval(
  job: { status: string; endedAt: string | null } | undefined,
): number | false {
  if (!job) return false;
  if (isActive(job.status)) return 1000;
  return job.endedAt && Date.now() - Date.parse(job.endedAt) < 15_000 ? 2000 : false;
}

/** Rows per second from successive samples of a running job's committed (or emitted) records. */
function useRate(job: Job | undefined): number | null {
  const samples = useRef<RateSample[]>([]);
  const jobId = useRef<string | null>(null);
  if (job && jobId.current !== job.id) {
    samples.current = [];
    jobId.current = job.id;
  }
  const totals = job?.totals;
  if (job && totals && isActive(job.status)) {
    const records = Math.max(totals.recordsEmitted, totals.recordsCommitted);
    const last = samples.current.at(-1);
    if (!last || last.records !== records || Date.now() - last.t > 900) {
      samples.current = [...samples.current.slice(-60), { t: Date.now(), records }];
    }
  }
  const measured = rowsPerSecond(samples.current);
  if (measured !== null) return measured;
  const attempt = job?.attempts.at(-1);
  if (!attempt || !totals || !attempt.durationMs) return null;
  return (Math.max(totals.recordsEmitted, totals.recordsCommitted) * 1000) / attempt.durationMs;
}

/** Live progress of a running sync: totals, per-stream counts, the source's estimate, rows/s. */
export function JobProgress({ jobId, workspaceId }: { jobId: string; workspaceId: string }) {
  const job = useJob(jobId);
  const rate = useRate(job.data);
  useNow(1000);
  if (job.error) return <ErrorBox error={job.error} />;
  if (!job.data) return <Loading />;
  const j = job.data;
  const attempt = j.attempts.at(-1);
  const totals = j.totals;
  const estimated = attempt?.streams.reduce((sum, s) => sum + (s.estimatedRecords ?? 0), 0) ?? 0;
  const progress = estimateProgress(totals?.recordsEmitted ?? 0, estimated || null);
  return (
    <section className="card" aria-labelledby="progress-title" data-testid="job-progress">
      <div className="card-header">
        <h2 id="progress-title">
          {j.type === 'reset' ? 'Reset' : 'Sync'} in progress <StatusBadge status={j.status} />
        </h2>
        <Link href={`/w/${workspaceId}/jobs/${j.id}`}>View log</Link>
      </div>
      <div className="stats">
        <Stat label="Records read" value={formatCount(totals?.recordsEmitted)} />
        <Stat label="Records committed" value={formatCount(totals?.recordsCommitted)} />
        <Stat label="Bytes read" value={formatBytes(totals?.bytesEmitted)} />
        <Stat label="Throughput" value={formatRate(rate)} />
        <Stat label="Elapsed" value={formatDuration(j.durationMs)} />
        <Stat label="Attempt" value={attempt ? String(attempt.attemptNumber + 1) : '—'} />
      </div>
      <div
        className={`progress${progress === null ? ' indeterminate' : ''}`}
        role="progressbar"
        aria-label="Sync progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={progress === null ? undefined : Math.round(progress * 100)}
        aria-valuetext={
          progress === null ? 'No estimate from the source' : `${Math.round(progress * 100)}% of the estimate`
        }
      >
        <div style={progress === null ? undefined : { width: `${progress * 100}%` }} />
      </div>
      <p className="help" style={{ margin: '6px 0 12px' }}>
        {progress === null
          ? 'The source sent no estimate of its size.'
          : `${Math.round(progress * 100)}% of the ${formatCount(estimated)} records the source estimated.`}
      </p>
      {attempt && attempt.streams.length > 0 && <StreamStatsTable streams={attempt.streams} live />}
    </section>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
    </div>
  );
}

export function StreamStatsTable({ streams, live }: { streams: Attempt['streams']; live?: boolean }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Stream</th>
            <th scope="col" className="num">
              Records read
            </th>
            <th scope="col" className="num">
              Committed
            </th>
            <th scope="col" className="num">
              Bytes
            </th>
            <th scope="col" className="num">
              Rejected
            </th>
            {live && <th scope="col">Estimate</th>}
          </tr>
        </thead>
        <tbody>
          {streams.map((s) => {
            const p = estimateProgress(s.recordsEmitted, s.estimatedRecords);
            return (
              <tr key={streamLabel(s)} data-stream={streamLabel(s)}>
                <td>{streamLabel(s)}</td>
                <td className="num">{formatCount(s.recordsEmitted)}</td>
                <td className="num">{formatCount(s.recordsCommitted)}</td>
                <td className="num">{formatBytes(s.bytesCommitted || s.bytesEmitted)}</td>
                <td className="num">{formatCount(s.recordsRejected)}</td>
                {live && (
                  <td>
                    {p === null ? (
                      <span className="muted">—</span>
                    ) : (
                      <div className="row">
                        <div className="progress" style={{ width: 100 }}>
                          <div style={{ width: `${p * 100}%` }} />
                        </div>
                        <span>
                          {Math.round(p * 100)}% of {formatCount(s.estimatedRecords)}
                        </span>
                      </div>
                    )}
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Records and duration of the connection's recent jobs. */
export function JobCharts({ jobs }: { jobs: Job[] }) {
  const recent = jobs
    .filter((j) => (j.type === 'sync' || j.type === 'reset') && !isActive(j.status))
    .slice(0, 30)
    .reverse();
  const statusOf = (j: Job) =>
    j.status === 'failed' ? 'failed' : j.status === 'cancelled' ? 'cancelled' : '';
  return (
    <div className="grid-2">
      <section className="card" aria-labelledby="chart-volume">
        <h2 id="chart-volume">Records per sync</h2>
        <BarChart
          label="Records committed by each of the recent syncs"
          format={formatCount}
          bars={recent.map((j) => ({
            key: j.id,
            value: j.totals?.recordsCommitted ?? 0,
            status: statusOf(j),
            title: `${formatDateTime(j.createdAt)}: ${formatCount(j.totals?.recordsCommitted)} records (${j.status})`,
          }))}
        />
      </section>
      <section className="card" aria-labelledby="chart-duration">
        <h2 id="chart-duration">Duration per sync</h2>
        <BarChart
          label="Duration of each of the recent syncs"
          format={formatDuration}
          bars={recent.map((j) => ({
            key: j.id,
            value: j.durationMs ?? 0,
            status: statusOf(j),
            title: `${formatDateTime(j.createdAt)}: ${formatDuration(j.durationMs)} (${j.status})`,
          }))}
        />
        <div className="chart-legend">
          <span>
            <span className="swatch" style={{ background: 'var(--accent)' }} />
            succeeded
          </span>
          <span>
            <span className="swatch" style={{ background: '#e5675c' }} />
            failed
          </span>
          <span>
            <span className="swatch" style={{ background: '#aab3c2' }} />
            cancelled
          </span>
        </div>
      </section>
    </div>
  );
}

/** A workspace's or a connection's jobs, newest first, with attempts, volumes and failure reasons. */
export function useJobHistory(workspaceId: string, connectionId?: string) {
  return useInfiniteQuery({
    queryKey: ['job.list', { workspaceId, connectionId }],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      api.job.list.query({
        workspaceId,
        ...(connectionId ? { connectionId } : {}),
        cursor: pageParam,
        limit: 25,
      }),
    getNextPageParam: (last) => last.nextCursor,
    refetchInterval: (q) =>
      q.state.data?.pages[0]?.items.some((j) => jobRefetchInterval(j) !== false) ? 2000 : false,
  });
}

export function JobHistoryTable({
  jobs,
  workspaceId,
  showConnection,
  connectionNames,
}: {
  jobs: Job[];
  workspaceId: string;
  showConnection?: boolean;
  connectionNames?: Map<string, string>;
}) {
  const [open, setOpen] = useState<string | null>(null);
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Job</th>
            {showConnection && <th scope="col">For</th>}
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col" className="num">
              Duration
            </th>
            <th scope="col" className="num">
              Records
            </th>
            <th scope="col" className="num">
              Bytes
            </th>
            <th scope="col" className="num">
              Attempts
            </th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => {
            const failure = j.status === 'failed' || j.status === 'incomplete' ? jobFailure(j) : null;
            const isOpen = open === j.id;
            return (
              <Fragment key={j.id}>
                <tr data-job={j.id} data-status={j.status}>
                  <td>
                    <Link href={`/w/${workspaceId}/jobs/${j.id}`}>{j.type}</Link>
                    <div className="muted mono" title={j.id}>
                      {j.id.slice(0, 8)}
                    </div>
                  </td>
                  {showConnection && (
                    <td>
                      {j.connectionId ? (
                        <Link href={`/w/${workspaceId}/connections/${j.connectionId}`}>
                          {connectionNames?.get(j.connectionId) ?? 'connection'}
                        </Link>
                      ) : j.sourceId ? (
                        <Link href={`/w/${workspaceId}/sources/${j.sourceId}`}>source</Link>
                      ) : j.destinationId ? (
                        <Link href={`/w/${workspaceId}/destinations/${j.destinationId}`}>destination</Link>
                      ) : (
                        '—'
                      )}
                    </td>
                  )}
                  <td>
                    <StatusBadge status={j.status} />
                  </td>
                  <td title={formatDateTime(j.startedAt ?? j.createdAt)}>
                    {formatRelative(j.startedAt ?? j.createdAt)}
                  </td>
                  <td className="num">{formatDuration(j.durationMs)}</td>
                  <td className="num" data-testid="job-records">
                    {formatCount(j.totals?.recordsCommitted)}
                  </td>
                  <td className="num">{formatBytes(j.totals?.bytesCommitted)}</td>
                  <td className="num">
                    <button
                      type="button"
                      className="btn link"
                      aria-expanded={isOpen}
                      onClick={() => setOpen(isOpen ? null : j.id)}
                      aria-label={`${j.attempts.length} attempts: ${isOpen ? 'hide' : 'show'}`}
                    >
                      {j.attempts.length}
                    </button>
                  </td>
                  <td className="failure-reason">{failure ? describeFailure(failure) : ''}</td>
                </tr>
                {isOpen && (
                  <tr>
                    <td colSpan={showConnection ? 9 : 8}>
                      <AttemptsList attempts={j.attempts} />
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function AttemptsList({ attempts }: { attempts: Attempt[] }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Attempt</th>
          <th scope="col">Status</th>
          <th scope="col">Started</th>
          <th scope="col" className="num">
            Duration
          </th>
          <th scope="col" className="num">
            Records
          </th>
          <th scope="col" className="num">
            Bytes
          </th>
          <th scope="col">Failure</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((a) => (
          <tr key={a.id}>
            <td>#{a.attemptNumber + 1}</td>
            <td>
              <StatusBadge status={a.status} />
            </td>
            <td>{formatDateTime(a.createdAt)}</td>
            <td className="num">{formatDuration(a.durationMs)}</td>
            <td className="num">{formatCount(a.totals.recordsCommitted)}</td>
            <td className="num">{formatBytes(a.totals.bytesCommitted)}</td>
            <td>{failuresOf(a).map(describeFailure).join('; ') || <span className="muted">—</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function levelClass(line: string): string | undefined {
  if (/\b(ERROR|FATAL)\b/.test(line)) return 'lvl-error';
  if (/\bWARN(ING)?\b/.test(line)) return 'lvl-warn';
  return undefined;
}

interface Chunk {
  writer: string;
  slot: number;
  sequence: number;
  text: string;
  createdAt: string;
}

/**
 * An attempt's log. While the attempt runs it follows job.attemptLog with the cursor the API
 * answers, which records how far each writer's chunks (middleware, launcher, API, platform)
 * were read: every chunk arrives once, in the order it was written, and is appended.
 */
export function LogViewer({ jobId, attemptNumber }: { jobId: string; attemptNumber: number | undefined }) {
  const [chunks, setChunks] = useState<Chunk[]>([]);
  const [state, setState] = useState<'loading' | 'following' | 'complete' | 'empty'>('loading');
  const [error, setError] = useState<unknown>(null);
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    let stopped = false;
    let cursor: string | null = null;
    let count = 0;
    setChunks([]);
    setState('loading');
    setError(null);
    (async () => {
      for (;;) {
        if (stopped) return;
        let complete = false;
        try {
          for (;;) {
            const page = await api.job.attemptLog.query({
              jobId,
              ...(attemptNumber !== undefined ? { attemptNumber } : {}),
              cursor,
              limit: 1000,
            });
            if (stopped) return;
            cursor = page.cursor;
            complete = page.complete;
            if (page.chunks.length > 0) {
              count += page.chunks.length;
              setChunks((prev) => [...prev, ...page.chunks]);
            }
            if (page.chunks.length < 1000) break;
          }
          setError(null);
          if (complete) {
            setState(count === 0 ? 'empty' : 'complete');
            return;
          }
          setState('following');
        } catch (err) {
          if (stopped) return;
          setError(err);
        }
        await new Promise((r) => setTimeout(r, count > 2000 ? 5000 : 1000));
      }
    })();
    return () => {
      stopped = true;
    };
  }, [jobId, attemptNumber]);

  const lines = useMemo(
    () => chunks.flatMap((c) => c.text.split('\n').filter((l, i, arr) => l !== '' || i < arr.length - 1)),
    [chunks],
  );

  useEffect(() => {
    if (follow && box.current && lines.length > 0) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);

  return (
    <div>
      <div className="row" style={{ marginBottom: 8 }}>
        <span className="muted" aria-live="polite" data-testid="log-state">
          {state === 'loading'
            ? 'Loading the log…'
            : state === 'following'
              ? 'Following the log while the attempt runs…'
              : state === 'empty'
                ? 'This attempt wrote no log.'
                : `${formatCount(lines.length)} lines`}
        </span>
        <span className="spacer" />
        <label className="row">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          Scroll to the newest line
        </label>
      </div>
      {error !== null && <ErrorBox error={error} title="The log could not be read (retrying)." />}
      <pre className="log" ref={box} data-testid="attempt-log">
        {lines.map((l, i) => {
          const m = /^(\S+Z) (.*)$/.exec(l);
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: log lines only ever append
            <div key={i} className={levelClass(l)}>
              {m ? (
                <>
                  <span className="ts">{m[1]!.slice(11, 23)}</span> {m[2]}
                </>
              ) : (
                l
              )}
            </div>
          );
        })}
      </pre>
    </div>
  );
}

export function JobDetail({ jobId, workspaceId }: { jobId: string; workspaceId: string }) {
  const job = useJob(jobId);
  const [attempt, setAttempt] = useState<number | undefined>(undefined);
  useNow(1000);
  if (job.error) return <ErrorBox error={job.error} onRetry={() => void job.refetch()} />;
  if (!job.data) return <Loading />;
  const j = job.data;
  const shown = attempt ?? j.attempts.at(-1)?.attemptNumber;
  const current = j.attempts.find((a) => a.attemptNumber === shown);
  const failure = jobFailure(j);
  return (
    <>
      {isActive(j.status) && j.type !== 'check' && j.type !== 'discover' && (
        <JobProgress jobId={j.id} workspaceId={workspaceId} />
      )}
      {(j.status === 'failed' || j.status === 'incomplete') && failure && (
        <div className="alert alert-error" role="alert" data-testid="job-failure">
          <strong>
            {j.status === 'failed' ? 'This job failed.' : 'The last attempt failed; the job retries.'}
          </strong>
          <div className="alert-detail">{describeFailure(failure)}</div>
        </div>
      )}
      <section className="card">
        <div className="kv-wrap">
          <dl className="kv">
            <div>
              <dt>Status</dt>
              <dd>
                <StatusBadge status={j.status} />
              </dd>
            </div>
            <div>
              <dt>Type</dt>
              <dd>{j.type}</dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>{formatDateTime(j.startedAt ?? j.createdAt)}</dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{formatDuration(j.durationMs)}</dd>
            </div>
            <div>
              <dt>Records committed</dt>
              <dd data-testid="job-total-records">{formatCount(j.totals?.recordsCommitted)}</dd>
            </div>
            <div>
              <dt>Bytes committed</dt>
              <dd>{formatBytes(j.totals?.bytesCommitted)}</dd>
            </div>
          </dl>
        </div>
      </section>
      <section className="card" aria-labelledby="attempts-title">
        <h2 id="attempts-title">Attempts</h2>
        {j.attempts.length === 0 ? (
          <p className="muted">No attempt has started yet.</p>
        ) : (
          <AttemptsList attempts={j.attempts} />
        )}
      </section>
      {current && current.streams.length > 0 && (
        <section className="card" aria-labelledby="streams-title">
          <h2 id="streams-title">Streams of attempt #{current.attemptNumber + 1}</h2>
          <StreamStatsTable streams={current.streams} />
        </section>
      )}
      <section className="card" aria-labelledby="log-title">
        <div className="card-header">
          <h2 id="log-title">Log</h2>
          {j.attempts.length > 1 && (
            <div className="field" style={{ marginBottom: 0 }}>
              <label htmlFor="log-attempt">Attempt</label>
              <select
                id="log-attempt"
                value={String(shown)}
                onChange={(e) => setAttempt(Number(e.target.value))}
              >
                {j.attempts.map((a) => (
                  <option key={a.id} value={String(a.attemptNumber)}>
                    #{a.attemptNumber + 1} ({a.status})
                  </option>
                ))}
              </select>
            </div>
          )}
        </div>
        {j.attempts.length === 0 ? (
          <p className="muted">The log appears when the first attempt starts.</p>
        ) : (
          <LogViewer key={`${j.id}-${shown}`} jobId={j.id} attemptNumber={shown} />
        )}
      </section>
    </>
  );
}
