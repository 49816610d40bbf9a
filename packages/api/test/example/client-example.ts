import type { AppRouter } from '@sluice/api';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';

export async function setUpPipeline(opts: {
  url: string; // e.g. http://localhost:3000/api/trpc
  token: string; // an API token: sluice_pat_…
  sourceConnector: string; // a definition name, e.g. source-postgres
  destinationConnector: string;
}) {
  const sluice = createTRPCClient<AppRouter>({
    links: [httpLink({ url: opts.url, headers: { authorization: `Bearer ${opts.token}` } })],
  });

  // The workspaces this token can act in, and the connectors they can use.
  const [workspace] = await sluice.workspace.list.query();
  if (!workspace) throw new Error('this token has no workspace');
  const workspaceId = workspace.id;
  const definitions = await sluice.definition.list.query({ workspaceId });
  const byName = (name: string) => {
    const found = definitions.find((d) => d.name === name);
    if (!found) throw new Error(`no connector named ${name}`);
    return found.id;
  };

  // A source. Its config is validated against the connector's spec: a mistake is a
  // BAD_REQUEST whose data.fieldPath names the field.
  try {
    await sluice.source.create.mutate({
      workspaceId,
      definitionId: byName(opts.sourceConnector),
      name: 'broken',
      config: { host: 'db.internal', port: 'not a number', password: 'x' },
    });
  } catch (err) {
    if (!(err instanceof TRPCClientError)) throw err;
    console.log(err.data.fieldPath); // "config.port"
  }
  const source = await sluice.source.create.mutate({
    workspaceId,
    definitionId: byName(opts.sourceConnector),
    name: 'Production DB',
    config: { host: 'db.internal', port: 5432, password: 'hunter2-but-longer' },
  });
  console.log(source.config.password); // "**********": secrets never come back

  // Test it: check runs the connector and records a check job.
  const check = await sluice.source.check.mutate({ sourceId: source.id });
  if (check.status !== 'succeeded') throw new Error(`source check failed: ${check.message}`);

  const destination = await sluice.destination.create.mutate({
    workspaceId,
    definitionId: byName(opts.destinationConnector),
    name: 'Warehouse',
    config: { path: '/var/lib/warehouse', api_token: 'wh-token-123456' },
  });
  const destinationCheck = await sluice.destination.check.mutate({ destinationId: destination.id });
  if (destinationCheck.status !== 'succeeded')
    throw new Error(`destination check failed: ${destinationCheck.message}`);

  // Discover the source's streams, then choose what to sync and how.
  const discovered = await sluice.source.discover.mutate({ sourceId: source.id });
  if (!discovered.catalog) throw new Error(`discover failed: ${discovered.failure?.message}`);
  console.log(discovered.catalog.streams.map((s) => s.name));

  const connection = await sluice.connection.create.mutate({
    workspaceId,
    sourceId: source.id,
    destinationId: destination.id,
    name: 'Production DB → Warehouse',
    catalog: {
      streams: [
        // The cursor defaults to the stream's default cursor; the key is the source's.
        { stream: { name: 'users' }, syncMode: 'incremental', destinationSyncMode: 'append_dedup' },
        { stream: { name: 'events' }, syncMode: 'full_refresh', destinationSyncMode: 'overwrite' },
      ],
    },
    schedule: { type: 'cron', expression: '0 0 */6 * * ?', timeZone: 'Europe/Paris' },
    namespaceDefinition: 'customformat',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Sluice placeholder, not a JS template
    namespaceFormat: '${SOURCE_NAMESPACE}_raw',
  });

  // Jobs of the connection (syncs and resets), newest first, a page at a time.
  const jobs = await sluice.job.list.query({ workspaceId, connectionId: connection.id, limit: 20 });
  for (const job of jobs.items) console.log(job.type, job.status, job.totals?.recordsCommitted);

  return { source, destination, connection, jobs };
}
