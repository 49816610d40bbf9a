'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams, useRouter, useSearchParams } from 'next/navigation';
import { useMemo, useState } from 'react';
import { api, type Connection, type Job, type SchemaChange } from '../client/api';
import { useRole, useWorkspaceId } from '../client/session';
import {
  type DiscoveredStream,
  keyOf,
  mergeChoices,
  type StreamChoice,
  toCatalogInput,
} from '../lib/catalog';
import { formatCount, formatDateTime, formatDuration, formatRelative, streamLabel } from '../lib/format';
import { ACTIVE_JOB_STATUSES, describeFailure, jobFailure } from '../lib/jobs';
import {
  ConnectionSettingsFields,
  type ConnectionSettingsValue,
  describeSchedule,
  SOURCE_NAMESPACE,
} from './ConnectionSettings';
import { useDestinationModes } from './connections';
import { JobCharts, JobHistoryTable, JobProgress, useJobHistory } from './jobs';
import { hasProblems, StreamsEditor } from './StreamsEditor';
import {
  ConfirmDialog,
  ErrorBox,
  Loading,
  Notice,
  PageHeader,
  StatusBadge,
  TabPanel,
  Tabs,
  useNow,
} from './ui';

const TABS = [
  { id: 'status', label: 'Status' },
  { id: 'jobs', label: 'Job history' },
  { id: 'schema', label: 'Schema' },
  { id: 'settings', label: 'Settings' },
];

export function ConnectionPage() {
  const workspaceId = useWorkspaceId();
  const { connectionId } = useParams<{ connectionId: string }>();
  const search = useSearchParams();
  const router = useRouter();
  const qc = useQueryClient();
  const { canEdit } = useRole();
  const [tab, setTabState] = useState(search.get('tab') ?? 'status');
  const [confirm, setConfirm] = useState<null | 'reset' | 'delete'>(null);
  const setTab = (t: string) => {
    setTabState(t);
    router.replace(`?tab=${t}`, { scroll: false });
  };
  const connection = useQuery({
    queryKey: ['connection.get', { connectionId }],
    queryFn: () => api.connection.get.query({ connectionId }),
    refetchInterval: (q) =>
      ACTIVE_JOB_STATUSES.has(q.state.data?.latestSyncJob?.status ?? '') ? 2000 : 15_000,
  });
  const history = useJobHistory(workspaceId, connectionId);
  const jobs = useMemo(() => history.data?.pages.flatMap((p) => p.items) ?? [], [history.data]);
  const running = jobs.find(
    (j) => ACTIVE_JOB_STATUSES.has(j.status) && (j.type === 'sync' || j.type === 'reset'),
  );
  const latestId = connection.data?.latestSyncJob?.id;
  const activeJobId =
    running?.id ??
    (connection.data?.latestSyncJob && ACTIVE_JOB_STATUSES.has(connection.data.latestSyncJob.status)
      ? latestId
      : undefined);

  const refresh = async () => {
    await qc.invalidateQueries({ queryKey: ['connection.get', { connectionId }] });
    await qc.invalidateQueries({ queryKey: ['job.list'] });
    await qc.invalidateQueries({ queryKey: ['connection.list'] });
  };
  const syncNow = useMutation({
    mutationFn: () => api.connection.syncNow.mutate({ connectionId }),
    onSuccess: refresh,
  });
  const cancel = useMutation({
    mutationFn: () => api.connection.cancel.mutate({ connectionId }),
    onSuccess: refresh,
  });
  const reset = useMutation({
    mutationFn: () => api.connection.reset.mutate({ connectionId }),
    onSuccess: refresh,
  });
  const toggle = useMutation({
    mutationFn: (enable: boolean) =>
      enable
        ? api.connection.enable.mutate({ connectionId })
        : api.connection.disable.mutate({ connectionId }),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: () => api.connection.delete.mutate({ connectionId }),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['connection.list'] });
      router.push(`/w/${workspaceId}/connections`);
    },
  });

  if (connection.error)
    return <ErrorBox error={connection.error} onRetry={() => void connection.refetch()} />;
  if (!connection.data) return <Loading />;
  const c = connection.data;
  const actionError = syncNow.error ?? cancel.error ?? reset.error ?? toggle.error ?? remove.error;

  return (
    <>
      <PageHeader
        title={c.name}
        crumbs={[{ href: `/w/${workspaceId}/connections`, label: 'Connections' }]}
        subtitle={
          <span className="row">
            <StatusBadge status={c.status} />
            <Link href={`/w/${workspaceId}/sources/${c.source.id}`}>{c.source.name}</Link>
            <span aria-hidden="true">→</span>
            <span className="sr-only">to</span>
            <Link href={`/w/${workspaceId}/destinations/${c.destination.id}`}>{c.destination.name}</Link>
            <span className="muted">· {describeSchedule(c.schedule)}</span>
          </span>
        }
        actions={
          canEdit && (
            <>
              <label className="row" htmlFor="connection-enabled">
                <input
                  id="connection-enabled"
                  type="checkbox"
                  checked={c.status === 'active'}
                  disabled={toggle.isPending}
                  onChange={(e) => toggle.mutate(e.target.checked)}
                />
                Enabled
              </label>
              {activeJobId ? (
                <button
                  type="button"
                  className="btn danger"
                  onClick={() => cancel.mutate()}
                  disabled={cancel.isPending}
                >
                  {cancel.isPending ? 'Cancelling…' : 'Cancel sync'}
                </button>
              ) : (
                <button
                  type="button"
                  className="btn primary"
                  onClick={() => syncNow.mutate()}
                  disabled={syncNow.isPending || c.breakingChange}
                >
                  {syncNow.isPending ? 'Starting…' : 'Sync now'}
                </button>
              )}
              <button
                type="button"
                className="btn"
                onClick={() => setConfirm('reset')}
                disabled={reset.isPending || Boolean(activeJobId)}
              >
                Reset data
              </button>
            </>
          )
        }
      />
      <ConfirmDialog
        open={confirm === 'reset'}
        title="Reset this connection’s data?"
        confirmLabel="Reset data"
        danger
        onCancel={() => setConfirm(null)}
        onConfirm={() => {
          setConfirm(null);
          reset.mutate();
        }}
      >
        <p>The saved state of every stream is cleared and the streams are synced again from the beginning.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === 'delete'}
        title={`Delete ${c.name}?`}
        confirmLabel="Delete connection"
        danger
        onCancel={() => setConfirm(null)}
        onConfirm={() => {
          setConfirm(null);
          remove.mutate();
        }}
      >
        <p>The connection stops and disappears. Its job history stays readable.</p>
      </ConfirmDialog>
      {actionError && <ErrorBox error={actionError} />}
      {syncNow.data && !activeJobId && (
        <Notice tone="info">Sync requested (job {syncNow.data.jobId.slice(0, 8)}).</Notice>
      )}
      {c.schemaChange && (
        <div className={`alert ${c.breakingChange ? 'alert-error' : 'alert-warn'}`} role="status">
          <strong>
            {c.breakingChange
              ? 'The source schema changed in a way that breaks this connection: syncs are paused until you review it.'
              : 'The source schema changed.'}
          </strong>
          <button type="button" className="btn small" onClick={() => setTab('schema')}>
            Review schema changes
          </button>
        </div>
      )}
      <Tabs tabs={TABS} current={tab} onChange={setTab} label="Connection sections" />
      {tab === 'status' && (
        <TabPanel id="status">
          {activeJobId && <JobProgress jobId={activeJobId} workspaceId={workspaceId} />}
          <StatusSummary connection={c} jobs={jobs} />
          {history.error && <ErrorBox error={history.error} />}
          {jobs.length > 0 && <JobCharts jobs={jobs} />}
        </TabPanel>
      )}
      {tab === 'jobs' && (
        <TabPanel id="jobs">
          {history.error && <ErrorBox error={history.error} onRetry={() => void history.refetch()} />}
          {history.isPending && <Loading />}
          {history.data && jobs.length === 0 && <p className="muted">No sync has run yet.</p>}
          {jobs.length > 0 && <JobHistoryTable jobs={jobs} workspaceId={workspaceId} />}
          {history.hasNextPage && (
            <div className="form-actions">
              <button
                type="button"
                className="btn"
                onClick={() => void history.fetchNextPage()}
                disabled={history.isFetchingNextPage}
              >
                {history.isFetchingNextPage ? 'Loading…' : 'Load older jobs'}
              </button>
            </div>
          )}
        </TabPanel>
      )}
      {tab === 'schema' && (
        <TabPanel id="schema">
          <SchemaTab connection={c} canEdit={canEdit} />
        </TabPanel>
      )}
      {tab === 'settings' && (
        <TabPanel id="settings">
          <SettingsTab connection={c} canEdit={canEdit} onDelete={() => setConfirm('delete')} />
        </TabPanel>
      )}
    </>
  );
}

function StatusSummary({ connection, jobs }: { connection: Connection; jobs: Job[] }) {
  useNow(30_000);
  const syncs = jobs.filter((j) => j.type === 'sync');
  const last = syncs.find((j) => !ACTIVE_JOB_STATUSES.has(j.status));
  const lastSuccess = syncs.find((j) => j.status === 'succeeded');
  const failure = last?.status === 'failed' ? jobFailure(last) : null;
  return (
    <>
      {failure && last && (
        <div className="alert alert-error" role="alert" data-testid="last-failure">
          <strong>
            The last sync failed{' '}
            <span className="muted">({formatRelative(last.endedAt ?? last.createdAt)})</span>
          </strong>
          <div className="alert-detail">{describeFailure(failure)}</div>
          <Link href={`/w/${connection.workspaceId}/jobs/${last.id}`}>Open its log</Link>
        </div>
      )}
      <div className="stats">
        <div className="stat">
          <div className="stat-label">Last sync</div>
          <div className="stat-value">{last ? <StatusBadge status={last.status} /> : '—'}</div>
          <div className="muted">{last ? formatRelative(last.endedAt ?? last.createdAt) : 'never ran'}</div>
        </div>
        <div className="stat">
          <div className="stat-label">Records in the last sync</div>
          <div className="stat-value" data-testid="last-sync-records">
            {formatCount(last?.totals?.recordsCommitted)}
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Last duration</div>
          <div className="stat-value">{formatDuration(last?.durationMs)}</div>
        </div>
        <div className="stat">
          <div className="stat-label">Last success</div>
          <div className="stat-value" style={{ fontSize: 15 }}>
            {lastSuccess ? formatRelative(lastSuccess.endedAt) : '—'}
          </div>
          <div className="muted">{lastSuccess ? formatDateTime(lastSuccess.endedAt) : ''}</div>
        </div>
        <div className="stat">
          <div className="stat-label">Streams</div>
          <div className="stat-value">{connection.catalog.streams.filter((s) => s.selected).length}</div>
          <div className="muted">of {connection.catalog.streams.length} discovered</div>
        </div>
      </div>
    </>
  );
}

function SchemaChangeReview({
  change,
  connection,
  canEdit,
}: {
  change: SchemaChange;
  connection: Connection;
  canEdit: boolean;
}) {
  const qc = useQueryClient();
  const apply = useMutation({
    mutationFn: () => api.connection.applySchemaChange.mutate({ connectionId: connection.id }),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['connection.get', { connectionId: connection.id }] });
      await qc.invalidateQueries({ queryKey: ['connection.list'] });
    },
  });
  return (
    <section className="card" aria-labelledby="schema-change-title" data-testid="schema-change">
      <div className="card-header">
        <h2 id="schema-change-title">
          Schema changes to review {change.breaking && <StatusBadge status="breaking" label="Breaking" />}
        </h2>
        <span className="muted">Detected {formatRelative(change.detectedAt)}</span>
      </div>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Stream</th>
              <th scope="col">Change</th>
              <th scope="col">Fields</th>
            </tr>
          </thead>
          <tbody>
            {change.streams.map((s) => (
              <tr key={streamLabel(s.stream)}>
                <td>{streamLabel(s.stream)}</td>
                <td className={`change-${s.change}`}>
                  {s.change === 'added'
                    ? 'Stream added'
                    : s.change === 'removed'
                      ? 'Stream removed'
                      : 'Fields changed'}
                  {s.breakingReason && <div className="field-error">{s.breakingReason}</div>}
                </td>
                <td>
                  {s.fields.length === 0
                    ? '—'
                    : s.fields.map((f) => (
                        <div key={f.path.join('.')} className={`change-${f.change}`}>
                          {f.change === 'added' ? '+ ' : f.change === 'removed' ? '− ' : '~ '}
                          <code>{f.path.join('.')}</code> {f.change}
                          {f.breaking && <strong> (breaking)</strong>}
                        </div>
                      ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {apply.error && <ErrorBox error={apply.error} title="The changes were not applied." />}
      {canEdit && (
        <div className="form-actions">
          <button
            type="button"
            className="btn primary"
            onClick={() => apply.mutate()}
            disabled={apply.isPending}
          >
            {apply.isPending ? 'Applying…' : 'Apply changes'}
          </button>
          <span className="help">
            Your current choices carry over; new streams are added unselected.
            {change.breaking
              ? ' A breaking change may need new choices: adjust the streams below and save.'
              : ''}
          </span>
        </div>
      )}
    </section>
  );
}

function SchemaTab({ connection, canEdit }: { connection: Connection; canEdit: boolean }) {
  const qc = useQueryClient();
  const workspaceId = connection.workspaceId;
  const destination = useQuery({
    queryKey: ['destination.get', { id: connection.destinationId }],
    queryFn: () => api.destination.get.query({ destinationId: connection.destinationId }),
  });
  const destModes = useDestinationModes(workspaceId, destination.data?.definitionId ?? null);
  const pending = connection.schemaChange;
  // The catalog the connection's choices refer to, or the newly discovered one under review.
  const catalog = useQuery({
    queryKey: ['source.latestCatalog', { sourceId: connection.sourceId }],
    queryFn: () => api.source.latestCatalog.query({ sourceId: connection.sourceId }),
  });
  const discover = useMutation({
    mutationFn: () => api.source.discover.mutate({ sourceId: connection.sourceId, disableCache: true }),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['source.latestCatalog', { sourceId: connection.sourceId }] });
      await qc.invalidateQueries({ queryKey: ['connection.get', { connectionId: connection.id }] });
    },
  });
  const discovered = (catalog.data?.catalog.streams ?? []) as DiscoveredStream[];
  const usable = Boolean(catalog.data);
  const base = useMemo(
    () => mergeChoices(discovered, connection.catalog.streams as StreamChoice[], destModes),
    [discovered, connection.catalog.streams, destModes],
  );
  // Edits belong to the version of the connection they started from: a save (or a change
  // elsewhere) starts over from the stored choices.
  const [edit, setEdit] = useState<{ at: string; choices: StreamChoice[] } | null>(null);
  const choices = edit && edit.at === connection.updatedAt ? edit.choices : null;
  const setChoices = (next: StreamChoice[] | null) =>
    setEdit(next ? { at: connection.updatedAt, choices: next } : null);
  const current = choices ?? base;
  const save = useMutation({
    mutationFn: () =>
      api.connection.update.mutate({
        connectionId: connection.id,
        catalog: toCatalogInput(current),
        ...(catalog.data && catalog.data.catalogId !== connection.sourceCatalogId
          ? { sourceCatalogId: catalog.data.catalogId }
          : {}),
      }),
    onSuccess: async () => {
      setChoices(null);
      await qc.invalidateQueries({ queryKey: ['connection.get', { connectionId: connection.id }] });
    },
  });
  const highlights = useMemo(
    () => new Map((pending?.streams ?? []).map((s) => [keyOf(s.stream), s.change] as [string, string])),
    [pending],
  );
  const dirty = choices !== null;
  return (
    <>
      {pending && <SchemaChangeReview change={pending} connection={connection} canEdit={canEdit} />}
      <section className="card" aria-labelledby="streams-title">
        <div className="card-header">
          <h2 id="streams-title">Streams</h2>
          {canEdit && (
            <button
              type="button"
              className="btn"
              onClick={() => discover.mutate()}
              disabled={discover.isPending}
            >
              {discover.isPending ? 'Discovering…' : 'Refresh source schema'}
            </button>
          )}
        </div>
        {discover.error && <ErrorBox error={discover.error} title="Discover failed." />}
        {discover.data?.failure && (
          <ErrorBox error={null} title={`Discover failed: ${discover.data.failure.message}`} />
        )}
        {discover.data && !discover.data.failure && discover.data.schemaChanges.length === 0 && (
          <Notice tone="ok">The source schema has not changed.</Notice>
        )}
        {catalog.error && <ErrorBox error={catalog.error} />}
        {catalog.isPending && <Loading />}
        {usable && (
          <StreamsEditor
            discovered={discovered}
            choices={current}
            onChange={setChoices}
            destModes={destModes}
            readOnly={!canEdit}
            highlights={highlights}
          />
        )}
        {save.error && <ErrorBox error={save.error} title="The stream choices were not saved." />}
        {canEdit && (
          <div className="form-actions">
            <button
              type="button"
              className="btn primary"
              disabled={!dirty || save.isPending || hasProblems(discovered, current)}
              onClick={() => save.mutate()}
            >
              {save.isPending ? 'Saving…' : 'Save stream choices'}
            </button>
            {dirty && (
              <button type="button" className="btn" onClick={() => setChoices(null)}>
                Discard changes
              </button>
            )}
          </div>
        )}
      </section>
    </>
  );
}

function SettingsTab({
  connection,
  canEdit,
  onDelete,
}: {
  connection: Connection;
  canEdit: boolean;
  onDelete(): void;
}) {
  const qc = useQueryClient();
  const initial: ConnectionSettingsValue = {
    name: connection.name,
    schedule: connection.schedule,
    namespaceDefinition: connection.namespaceDefinition,
    namespaceFormat: connection.namespaceFormat ?? SOURCE_NAMESPACE,
    prefix: connection.prefix,
    nonBreakingChangesPreference: connection.nonBreakingChangesPreference,
  };
  const [value, setValue] = useState(initial);
  const save = useMutation({
    mutationFn: () =>
      api.connection.update.mutate({
        connectionId: connection.id,
        name: value.name.trim(),
        schedule: value.schedule,
        namespaceDefinition: value.namespaceDefinition,
        namespaceFormat: value.namespaceDefinition === 'customformat' ? value.namespaceFormat : null,
        prefix: value.prefix,
        nonBreakingChangesPreference: value.nonBreakingChangesPreference,
      }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['connection.get', { connectionId: connection.id }] }),
  });
  return (
    <>
      <section className="card">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate();
          }}
        >
          <ConnectionSettingsFields value={value} onChange={setValue} disabled={!canEdit} />
          {save.error && <ErrorBox error={save.error} title="The settings were not saved." />}
          {save.isSuccess && <Notice tone="ok">Settings saved.</Notice>}
          {canEdit && (
            <div className="form-actions">
              <button type="submit" className="btn primary" disabled={save.isPending}>
                {save.isPending ? 'Saving…' : 'Save settings'}
              </button>
            </div>
          )}
        </form>
      </section>
      {canEdit && (
        <section className="card">
          <h2>Delete this connection</h2>
          <p className="help">It stops syncing and disappears from the list; its job history stays.</p>
          <button type="button" className="btn danger" onClick={onDelete}>
            Delete connection
          </button>
        </section>
      )}
    </>
  );
}
