'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams, useRouter } from 'next/navigation';
import { useMemo, useState } from 'react';
import { type Actor, api, type CheckResult, type Definition } from '../client/api';
import { useRole, useWorkspaceId } from '../client/session';
import type { DiscoveredStream } from '../lib/catalog';
import { formatDateTime, formatRelative } from '../lib/format';
import { ConnectorConfigForm } from './ConnectorConfig';
import { defaultsFor, type JsonSchema } from './spec-form/model';
import {
  ConfirmDialog,
  Empty,
  ErrorBox,
  KeyValue,
  Loading,
  PageHeader,
  StatusBadge,
  TabPanel,
  Tabs,
} from './ui';

export type ActorKind = 'source' | 'destination';

const ops = {
  source: {
    list: (workspaceId: string) => api.source.list.query({ workspaceId }),
    get: (id: string) => api.source.get.query({ sourceId: id }),
    create: (input: {
      workspaceId: string;
      definitionId: string;
      name: string;
      config: Record<string, unknown>;
    }) => api.source.create.mutate(input),
    update: (id: string, name: string, config: Record<string, unknown>) =>
      api.source.update.mutate({ sourceId: id, name, config }),
    remove: (id: string) => api.source.delete.mutate({ sourceId: id }),
    checkConfig: (workspaceId: string, definitionId: string, config: Record<string, unknown>, id?: string) =>
      api.source.checkConfig.mutate({ workspaceId, definitionId, config, ...(id ? { sourceId: id } : {}) }),
  },
  destination: {
    list: (workspaceId: string) => api.destination.list.query({ workspaceId }),
    get: (id: string) => api.destination.get.query({ destinationId: id }),
    create: (input: {
      workspaceId: string;
      definitionId: string;
      name: string;
      config: Record<string, unknown>;
    }) => api.destination.create.mutate(input),
    update: (id: string, name: string, config: Record<string, unknown>) =>
      api.destination.update.mutate({ destinationId: id, name, config }),
    remove: (id: string) => api.destination.delete.mutate({ destinationId: id }),
    checkConfig: (workspaceId: string, definitionId: string, config: Record<string, unknown>, id?: string) =>
      api.destination.checkConfig.mutate({
        workspaceId,
        definitionId,
        config,
        ...(id ? { destinationId: id } : {}),
      }),
  },
} as const;

const plural = (kind: ActorKind) => (kind === 'source' ? 'sources' : 'destinations');
const title = (kind: ActorKind) => (kind === 'source' ? 'Source' : 'Destination');

export function useDefinitionSpec(workspaceId: string, definitionId: string | null) {
  return useQuery({
    queryKey: ['definition.get', { workspaceId, definitionId }],
    queryFn: () => api.definition.get.query({ workspaceId, definitionId: definitionId! }),
    enabled: Boolean(definitionId),
    staleTime: 60_000,
  });
}

export function ActorListPage({ kind }: { kind: ActorKind }) {
  const workspaceId = useWorkspaceId();
  const { canEdit } = useRole();
  const list = useQuery({
    queryKey: [`${kind}.list`, { workspaceId }],
    queryFn: () => ops[kind].list(workspaceId),
  });
  const connections = useQuery({
    queryKey: ['connection.list', { workspaceId }],
    queryFn: () => api.connection.list.query({ workspaceId }),
  });
  const countFor = (id: string) =>
    connections.data?.filter((c) => (kind === 'source' ? c.sourceId : c.destinationId) === id).length;
  const base = `/w/${workspaceId}/${plural(kind)}`;
  return (
    <>
      <PageHeader
        title={kind === 'source' ? 'Sources' : 'Destinations'}
        subtitle={kind === 'source' ? 'Where data is read from.' : 'Where data is written to.'}
        actions={
          canEdit && (
            <Link className="btn primary" href={`${base}/new`}>
              New {kind}
            </Link>
          )
        }
      />
      {list.error && <ErrorBox error={list.error} onRetry={() => void list.refetch()} />}
      {list.isPending && <Loading />}
      {list.data && list.data.length === 0 && (
        <Empty title={`No ${plural(kind)} yet`}>
          <p>
            {kind === 'source'
              ? 'Add a source to start moving data: a database, an API, files, or sample data.'
              : 'Add a destination for your data: a database, a warehouse or files.'}
          </p>
          {canEdit && (
            <Link className="btn primary" href={`${base}/new`}>
              New {kind}
            </Link>
          )}
        </Empty>
      )}
      {list.data && list.data.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Connector</th>
                <th scope="col" className="num">
                  Connections
                </th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((a) => (
                <tr key={a.id}>
                  <td>
                    <Link href={`${base}/${a.id}`}>{a.name}</Link>
                  </td>
                  <td>
                    {a.definition.displayName} <span className="muted">{a.definition.version}</span>
                  </td>
                  <td className="num">{countFor(a.id) ?? '—'}</td>
                  <td title={formatDateTime(a.createdAt)}>{formatRelative(a.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function DefinitionPicker({
  definitions,
  selected,
  onSelect,
}: {
  definitions: Definition[];
  selected: string | null;
  onSelect(id: string): void;
}) {
  const [filter, setFilter] = useState('');
  const shown = definitions.filter((d) =>
    `${d.displayName} ${d.name}`.toLowerCase().includes(filter.trim().toLowerCase()),
  );
  return (
    <div>
      <div className="field" style={{ maxWidth: 360 }}>
        <label htmlFor="definition-filter">Search connectors</label>
        <input
          id="definition-filter"
          type="text"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
      </div>
      <fieldset className="definition-grid" style={{ border: 'none', padding: 0, margin: '0 0 16px' }}>
        <legend className="sr-only">Connectors</legend>
        {shown.map((d) => (
          <button
            key={d.id}
            type="button"
            className="definition-card"
            aria-pressed={selected === d.id}
            disabled={!d.hasSpec}
            onClick={() => onSelect(d.id)}
          >
            <strong>{d.displayName}</strong>
            <span className="muted">
              {d.name} · {d.version}
            </span>
            {d.custom && <span className="muted">Custom</span>}
            {!d.hasSpec && <span className="muted">No spec yet</span>}
          </button>
        ))}
        {shown.length === 0 && <p className="muted">No connector matches “{filter}”.</p>}
      </fieldset>
    </div>
  );
}

export function ActorNewPage({ kind }: { kind: ActorKind }) {
  const workspaceId = useWorkspaceId();
  const router = useRouter();
  const qc = useQueryClient();
  const [definitionId, setDefinitionId] = useState<string | null>(null);
  const definitions = useQuery({
    queryKey: ['definition.list', { workspaceId, kind }],
    queryFn: () => api.definition.list.query({ workspaceId, kind }),
  });
  const def = useDefinitionSpec(workspaceId, definitionId);
  const schema = (def.data?.spec?.connectionSpecification ?? null) as JsonSchema | null;
  const initial = useMemo(
    () => (schema ? ((defaultsFor(schema) as Record<string, unknown>) ?? {}) : {}),
    [schema],
  );
  const base = `/w/${workspaceId}/${plural(kind)}`;
  return (
    <>
      <PageHeader
        title={`New ${kind}`}
        crumbs={[{ href: base, label: kind === 'source' ? 'Sources' : 'Destinations' }]}
        subtitle="Choose a connector, fill in its settings, test the connection, save."
      />
      {definitions.error && <ErrorBox error={definitions.error} onRetry={() => void definitions.refetch()} />}
      {definitions.isPending && <Loading label="Loading connectors…" />}
      {definitions.data && (
        <section className="card" aria-labelledby="step-connector">
          <h2 id="step-connector">1. Connector</h2>
          <DefinitionPicker
            definitions={definitions.data}
            selected={definitionId}
            onSelect={setDefinitionId}
          />
        </section>
      )}
      {definitionId && (
        <section className="card" aria-labelledby="step-config">
          <h2 id="step-config">2. Settings{def.data ? `: ${def.data.displayName}` : ''}</h2>
          {def.error && <ErrorBox error={def.error} />}
          {def.isPending && <Loading label="Loading the connector’s settings…" />}
          {def.data && !schema && (
            <ErrorBox error={null} title="This connector has no spec yet: it cannot be configured." />
          )}
          {def.data && schema && (
            <>
              {def.data.documentationUrl && (
                <p className="help">
                  Setup guide:{' '}
                  <a href={def.data.documentationUrl} target="_blank" rel="noreferrer noopener">
                    {def.data.documentationUrl}
                  </a>
                </p>
              )}
              <ConnectorConfigForm
                key={definitionId}
                kind={kind}
                schema={schema}
                initialName={def.data.displayName}
                initialConfig={initial}
                test={(config) => ops[kind].checkConfig(workspaceId, definitionId, config)}
                save={async (name, config) => {
                  const created = await ops[kind].create({ workspaceId, definitionId, name, config });
                  await qc.invalidateQueries({ queryKey: [`${kind}.list`] });
                  router.push(`${base}/${created.id}`);
                }}
                saveLabel={`Create ${kind}`}
              />
            </>
          )}
        </section>
      )}
    </>
  );
}

export function ActorDetailPage({ kind }: { kind: ActorKind }) {
  const workspaceId = useWorkspaceId();
  const params = useParams<{ sourceId?: string; destinationId?: string }>();
  const id = (kind === 'source' ? params.sourceId : params.destinationId)!;
  const router = useRouter();
  const qc = useQueryClient();
  const { canEdit } = useRole();
  const [tab, setTab] = useState('settings');
  const [confirmDelete, setConfirmDelete] = useState(false);
  const actor = useQuery({ queryKey: [`${kind}.get`, { id }], queryFn: () => ops[kind].get(id) });
  const def = useDefinitionSpec(workspaceId, actor.data?.definitionId ?? null);
  const connections = useQuery({
    queryKey: ['connection.list', { workspaceId, [`${kind}Id`]: id }],
    queryFn: () =>
      api.connection.list.query({
        workspaceId,
        ...(kind === 'source' ? { sourceId: id } : { destinationId: id }),
      }),
  });
  const remove = useMutation({
    mutationFn: () => ops[kind].remove(id),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: [`${kind}.list`] });
      await qc.invalidateQueries({ queryKey: ['connection.list'] });
      router.push(`/w/${workspaceId}/${plural(kind)}`);
    },
  });
  const base = `/w/${workspaceId}/${plural(kind)}`;
  if (actor.error) return <ErrorBox error={actor.error} onRetry={() => void actor.refetch()} />;
  if (actor.isPending) return <Loading />;
  const a: Actor = actor.data;
  const schema = (def.data?.spec?.connectionSpecification ?? null) as JsonSchema | null;
  const tabs = [
    { id: 'settings', label: 'Settings' },
    ...(kind === 'source' ? [{ id: 'schema', label: 'Schema' }] : []),
    { id: 'connections', label: `Connections (${connections.data?.length ?? '…'})` },
  ];
  return (
    <>
      <PageHeader
        title={a.name}
        crumbs={[{ href: base, label: kind === 'source' ? 'Sources' : 'Destinations' }]}
        subtitle={
          <>
            {a.definition.displayName} {a.definition.version} · created {formatRelative(a.createdAt)}
          </>
        }
        actions={
          canEdit && (
            <button type="button" className="btn danger" onClick={() => setConfirmDelete(true)}>
              Delete {kind}
            </button>
          )
        }
      />
      <ConfirmDialog
        open={confirmDelete}
        title={`Delete ${a.name}?`}
        confirmLabel={`Delete ${kind}`}
        danger
        onCancel={() => setConfirmDelete(false)}
        onConfirm={() => {
          setConfirmDelete(false);
          remove.mutate();
        }}
      >
        <p>
          Its {connections.data?.length ?? 0} connection(s) are deleted with it. Their job history stays
          readable.
        </p>
      </ConfirmDialog>
      {remove.error && <ErrorBox error={remove.error} title={`The ${kind} was not deleted.`} />}
      <Tabs tabs={tabs} current={tab} onChange={setTab} label={`${title(kind)} sections`} />
      {tab === 'settings' && (
        <TabPanel id="settings">
          <section className="card">
            {def.error && <ErrorBox error={def.error} />}
            {def.isPending && <Loading />}
            {schema && (
              <ConnectorConfigForm
                kind={kind}
                schema={schema}
                initialName={a.name}
                initialConfig={a.config}
                readOnly={!canEdit}
                test={(config): Promise<CheckResult> =>
                  ops[kind].checkConfig(workspaceId, a.definitionId, config, a.id)
                }
                save={async (name, config) => {
                  await ops[kind].update(a.id, name, config);
                  await qc.invalidateQueries({ queryKey: [`${kind}.get`, { id }] });
                  await qc.invalidateQueries({ queryKey: [`${kind}.list`] });
                }}
                saveLabel="Save changes"
              />
            )}
          </section>
        </TabPanel>
      )}
      {tab === 'schema' && kind === 'source' && (
        <TabPanel id="schema">
          <SourceSchema sourceId={id} canEdit={canEdit} />
        </TabPanel>
      )}
      {tab === 'connections' && (
        <TabPanel id="connections">
          {connections.error && <ErrorBox error={connections.error} />}
          {connections.data && connections.data.length === 0 && (
            <Empty title="Not used by any connection">
              <Link className="btn primary" href={`/w/${workspaceId}/connections/new?${kind}Id=${id}`}>
                New connection
              </Link>
            </Empty>
          )}
          {connections.data && connections.data.length > 0 && (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Connection</th>
                    <th scope="col">Status</th>
                    <th scope="col">Last sync</th>
                  </tr>
                </thead>
                <tbody>
                  {connections.data.map((c) => (
                    <tr key={c.id}>
                      <td>
                        <Link href={`/w/${workspaceId}/connections/${c.id}`}>{c.name}</Link>
                      </td>
                      <td>
                        <StatusBadge status={c.status} />
                      </td>
                      <td>{c.latestSyncJob ? <StatusBadge status={c.latestSyncJob.status} /> : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </TabPanel>
      )}
    </>
  );
}

function SourceSchema({ sourceId, canEdit }: { sourceId: string; canEdit: boolean }) {
  const qc = useQueryClient();
  const catalog = useQuery({
    queryKey: ['source.latestCatalog', { sourceId }],
    queryFn: () => api.source.latestCatalog.query({ sourceId }),
  });
  const discover = useMutation({
    mutationFn: () => api.source.discover.mutate({ sourceId, disableCache: true }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['source.latestCatalog', { sourceId }] }),
  });
  return (
    <section className="card">
      <div className="card-header">
        <h2>Discovered streams</h2>
        {canEdit && (
          <button
            type="button"
            className="btn"
            onClick={() => discover.mutate()}
            disabled={discover.isPending}
          >
            {discover.isPending ? 'Discovering…' : 'Refresh schema'}
          </button>
        )}
      </div>
      {discover.error && <ErrorBox error={discover.error} title="Discover failed." />}
      {discover.data?.failure && (
        <ErrorBox error={null} title={`Discover failed: ${discover.data.failure.message}`} />
      )}
      {catalog.error && <ErrorBox error={catalog.error} />}
      {catalog.isPending && <Loading />}
      {catalog.data === null && (
        <p className="muted">This source was never discovered. Refresh its schema.</p>
      )}
      {catalog.data && (
        <>
          <KeyValue
            items={[
              ['Streams', String(catalog.data.catalog.streams.length)],
              ['Discovered', formatDateTime(catalog.data.fetchedAt)],
            ]}
          />
          <div className="table-wrap" style={{ marginTop: 12 }}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Stream</th>
                  <th scope="col">Sync modes</th>
                  <th scope="col">Cursor</th>
                  <th scope="col">Primary key</th>
                  <th scope="col" className="num">
                    Fields
                  </th>
                </tr>
              </thead>
              <tbody>
                {(catalog.data.catalog.streams as DiscoveredStream[]).map((s) => (
                  <tr key={`${s.namespace ?? ''}.${s.name}`}>
                    <td>{s.namespace ? `${s.namespace}.${s.name}` : s.name}</td>
                    <td>{s.supported_sync_modes.join(', ')}</td>
                    <td>{s.default_cursor_field?.join('.') || '—'}</td>
                    <td>{s.source_defined_primary_key?.map((k) => k.join('.')).join(', ') || '—'}</td>
                    <td className="num">
                      {
                        Object.keys(((s.json_schema as { properties?: object }).properties ?? {}) as object)
                          .length
                      }
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
