'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { useMemo, useState } from 'react';
import { api, type DiscoverResult } from '../client/api';
import { describeError } from '../client/errors';
import { useRole, useWorkspaceId } from '../client/session';
import {
  type DestinationSyncMode,
  type DiscoveredStream,
  mergeChoices,
  type StreamChoice,
  toCatalogInput,
} from '../lib/catalog';
import { formatDateTime, formatRelative } from '../lib/format';
import { useDefinitionSpec } from './actors';
import {
  ConnectionSettingsFields,
  type ConnectionSettingsValue,
  describeSchedule,
  SOURCE_NAMESPACE,
} from './ConnectionSettings';
import { hasProblems, StreamsEditor } from './StreamsEditor';
import { Empty, ErrorBox, Loading, Notice, PageHeader, StatusBadge } from './ui';

export function ConnectionListPage() {
  const workspaceId = useWorkspaceId();
  const { canEdit } = useRole();
  const list = useQuery({
    queryKey: ['connection.list', { workspaceId }],
    queryFn: () => api.connection.list.query({ workspaceId }),
    refetchInterval: (q) =>
      q.state.data?.some(
        (c) => c.latestSyncJob && ['pending', 'running', 'incomplete'].includes(c.latestSyncJob.status),
      )
        ? 3000
        : false,
  });
  const base = `/w/${workspaceId}/connections`;
  return (
    <>
      <PageHeader
        title="Connections"
        subtitle="Each connection copies streams from a source to a destination on a schedule."
        actions={
          canEdit && (
            <Link className="btn primary" href={`${base}/new`}>
              New connection
            </Link>
          )
        }
      />
      {list.error && <ErrorBox error={list.error} onRetry={() => void list.refetch()} />}
      {list.isPending && <Loading />}
      {list.data && list.data.length === 0 && (
        <Empty title="No connections yet">
          <p>
            A connection moves data from a source to a destination. Create a source and a destination first.
          </p>
          {canEdit && (
            <div className="row" style={{ justifyContent: 'center' }}>
              <Link className="btn" href={`/w/${workspaceId}/sources/new`}>
                New source
              </Link>
              <Link className="btn" href={`/w/${workspaceId}/destinations/new`}>
                New destination
              </Link>
              <Link className="btn primary" href={`${base}/new`}>
                New connection
              </Link>
            </div>
          )}
        </Empty>
      )}
      {list.data && list.data.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Source</th>
                <th scope="col">Destination</th>
                <th scope="col">Schedule</th>
                <th scope="col">Status</th>
                <th scope="col">Last sync</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((c) => (
                <tr key={c.id}>
                  <td>
                    <Link href={`${base}/${c.id}`}>{c.name}</Link>
                    {c.schemaChange && (
                      <div>
                        <StatusBadge
                          status={c.breakingChange ? 'breaking' : 'incomplete'}
                          label={c.breakingChange ? 'Breaking schema change' : 'Schema changed'}
                        />
                      </div>
                    )}
                  </td>
                  <td>
                    <Link href={`/w/${workspaceId}/sources/${c.source.id}`}>{c.source.name}</Link>
                    <div className="muted">{c.source.definitionName}</div>
                  </td>
                  <td>
                    <Link href={`/w/${workspaceId}/destinations/${c.destination.id}`}>
                      {c.destination.name}
                    </Link>
                    <div className="muted">{c.destination.definitionName}</div>
                  </td>
                  <td>{describeSchedule(c.schedule)}</td>
                  <td>
                    <StatusBadge status={c.status} />
                  </td>
                  <td>
                    {c.latestSyncJob ? (
                      <>
                        <StatusBadge status={c.latestSyncJob.status} />{' '}
                        <span className="muted" title={formatDateTime(c.latestSyncJob.createdAt)}>
                          {formatRelative(c.latestSyncJob.endedAt ?? c.latestSyncJob.createdAt)}
                        </span>
                      </>
                    ) : (
                      <span className="muted">Never</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** The destination's supported modes from its spec (empty: it did not say). */
export function useDestinationModes(
  workspaceId: string,
  definitionId: string | null,
): readonly DestinationSyncMode[] {
  const def = useDefinitionSpec(workspaceId, definitionId);
  return (def.data?.spec?.supported_destination_sync_modes ?? []) as DestinationSyncMode[];
}

export function ConnectionNewPage() {
  const workspaceId = useWorkspaceId();
  const router = useRouter();
  const params = useSearchParams();
  const qc = useQueryClient();
  const [sourceId, setSourceId] = useState(params.get('sourceId') ?? '');
  const [destinationId, setDestinationId] = useState(params.get('destinationId') ?? '');
  const [discovered, setDiscovered] = useState<{
    result: DiscoverResult;
    streams: DiscoveredStream[];
  } | null>(null);
  const [choices, setChoices] = useState<StreamChoice[]>([]);
  const [settings, setSettings] = useState<ConnectionSettingsValue | null>(null);
  const sources = useQuery({
    queryKey: ['source.list', { workspaceId }],
    queryFn: () => api.source.list.query({ workspaceId }),
  });
  const destinations = useQuery({
    queryKey: ['destination.list', { workspaceId }],
    queryFn: () => api.destination.list.query({ workspaceId }),
  });
  const source = sources.data?.find((s) => s.id === sourceId);
  const destination = destinations.data?.find((d) => d.id === destinationId);
  const destModes = useDestinationModes(workspaceId, destination?.definitionId ?? null);

  const discover = useMutation({
    mutationFn: (disableCache: boolean) => api.source.discover.mutate({ sourceId, disableCache }),
    onSuccess: (result) => {
      if (!result.catalog) {
        setDiscovered(null);
        return;
      }
      const streams = result.catalog.streams as DiscoveredStream[];
      setDiscovered({ result, streams });
      setChoices(mergeChoices(streams, null, destModes));
      setSettings({
        name: `${source?.name ?? 'Source'} → ${destination?.name ?? 'Destination'}`,
        schedule: { type: 'manual' },
        namespaceDefinition: 'destination',
        namespaceFormat: SOURCE_NAMESPACE,
        prefix: '',
        nonBreakingChangesPreference: 'ignore',
      });
    },
  });
  const create = useMutation({
    mutationFn: () =>
      api.connection.create.mutate({
        workspaceId,
        sourceId,
        destinationId,
        ...(discovered?.result.catalogId ? { sourceCatalogId: discovered.result.catalogId } : {}),
        catalog: toCatalogInput(choices),
        name: settings!.name.trim() || undefined,
        schedule: settings!.schedule,
        namespaceDefinition: settings!.namespaceDefinition,
        namespaceFormat: settings!.namespaceDefinition === 'customformat' ? settings!.namespaceFormat : null,
        prefix: settings!.prefix,
        nonBreakingChangesPreference: settings!.nonBreakingChangesPreference,
      }),
    onSuccess: async (c) => {
      await qc.invalidateQueries({ queryKey: ['connection.list'] });
      router.push(`/w/${workspaceId}/connections/${c.id}`);
    },
  });
  const invalid = useMemo(
    () => (discovered ? hasProblems(discovered.streams, choices) : true),
    [discovered, choices],
  );
  const nothingSelected = choices.every((c) => !c.selected);
  const createError = create.error ? describeError(create.error) : null;

  return (
    <>
      <PageHeader
        title="New connection"
        crumbs={[{ href: `/w/${workspaceId}/connections`, label: 'Connections' }]}
        subtitle="Pick a source and a destination, choose the streams, set a schedule."
      />
      {(sources.error || destinations.error) && <ErrorBox error={sources.error ?? destinations.error} />}
      <section className="card" aria-labelledby="step-endpoints">
        <h2 id="step-endpoints">1. Source and destination</h2>
        <div className="inline">
          <div className="field">
            <label htmlFor="connection-source">Source</label>
            <select
              id="connection-source"
              value={sourceId}
              onChange={(e) => {
                setSourceId(e.target.value);
                setDiscovered(null);
              }}
            >
              <option value="">Choose a source…</option>
              {sources.data?.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name} ({s.definition.displayName})
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="connection-destination">Destination</label>
            <select
              id="connection-destination"
              value={destinationId}
              onChange={(e) => {
                setDestinationId(e.target.value);
                setDiscovered(null);
              }}
            >
              <option value="">Choose a destination…</option>
              {destinations.data?.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name} ({d.definition.displayName})
                </option>
              ))}
            </select>
          </div>
          <button
            type="button"
            className="btn primary"
            disabled={!sourceId || !destinationId || discover.isPending}
            onClick={() => discover.mutate(false)}
          >
            {discover.isPending ? 'Discovering streams…' : discovered ? 'Discover again' : 'Discover streams'}
          </button>
        </div>
        <p className="help" style={{ marginTop: 10 }}>
          Missing one? <Link href={`/w/${workspaceId}/sources/new`}>Create a source</Link> or{' '}
          <Link href={`/w/${workspaceId}/destinations/new`}>a destination</Link>.
        </p>
        {discover.error && (
          <ErrorBox error={discover.error} title="The source’s schema could not be discovered." />
        )}
        {discover.data?.failure && (
          <ErrorBox
            error={null}
            title={`The source’s schema could not be discovered: ${discover.data.failure.message}`}
          />
        )}
      </section>
      {discovered && settings && (
        <>
          <section className="card" aria-labelledby="step-streams">
            <div className="card-header">
              <h2 id="step-streams">2. Streams</h2>
              <button
                type="button"
                className="btn small"
                onClick={() => discover.mutate(true)}
                disabled={discover.isPending}
              >
                Refresh source schema
              </button>
            </div>
            <StreamsEditor
              discovered={discovered.streams}
              choices={choices}
              onChange={setChoices}
              destModes={destModes}
            />
          </section>
          <section className="card" aria-labelledby="step-settings">
            <h2 id="step-settings">3. Settings</h2>
            <ConnectionSettingsFields
              value={settings}
              onChange={setSettings}
              errors={
                createError?.fieldPath
                  ? { [createError.fieldPath.split('.')[0]!]: createError.detail ?? '' }
                  : {}
              }
            />
          </section>
          {create.error && <ErrorBox error={create.error} title="The connection was not created." />}
          {nothingSelected && <Notice tone="warn">Select at least one stream to sync.</Notice>}
          <div className="form-actions">
            <button
              type="button"
              className="btn primary"
              disabled={invalid || nothingSelected || create.isPending}
              onClick={() => create.mutate()}
            >
              {create.isPending ? 'Creating…' : 'Set up connection'}
            </button>
          </div>
        </>
      )}
    </>
  );
}
