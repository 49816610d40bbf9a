import { randomBytes } from 'node:crypto';
import type {
  Attempt,
  Connection,
  ConnectorDefinition,
  Db,
  Destination,
  Job,
  Source,
  Workspace,
} from '@sluice/db';
import type { CreateWorkload, WorkloadInput } from './types';

/**
 * Rows a workload test needs (workspace, definitions with specs, source, destination,
 * connection, job, attempt), for this package's tests and the Workload API router's.
 */

/** A source spec with two secret fields, so tests can check sealing. */
export const TEST_SOURCE_SPEC = {
  connectionSpecification: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    required: ['host', 'api_key'],
    properties: {
      host: { type: 'string', minLength: 1 },
      api_key: { type: 'string', airbyte_secret: true },
      refresh_token: { type: 'string', airbyte_secret: true },
      page_size: { type: 'integer', minimum: 1 },
    },
  },
};

export const TEST_DESTINATION_SPEC = {
  connectionSpecification: {
    type: 'object',
    required: ['path'],
    properties: { path: { type: 'string' }, password: { type: 'string', airbyte_secret: true } },
  },
};

export interface WorkloadFixtures {
  workspace: Workspace;
  sourceDefinition: ConnectorDefinition;
  destinationDefinition: ConnectorDefinition;
  source: Source;
  destination: Destination;
  connection: Connection;
  job: Job;
  attempt: Attempt;
}

const suffix = () => randomBytes(4).toString('hex');

export async function createWorkloadFixtures(
  db: Db,
  opts: { dataplaneGroup?: string; sourceConfig?: unknown; destinationConfig?: unknown } = {},
): Promise<WorkloadFixtures> {
  const s = suffix();
  const workspace = await db.workspace.create({
    data: { name: `W ${s}`, slug: `w-${s}`, dataplaneGroup: opts.dataplaneGroup ?? 'default' },
  });
  const definition = (kind: 'source' | 'destination', spec: object) =>
    db.connectorDefinition.create({
      data: {
        name: `${kind}-test-${s}`,
        displayName: `Test ${kind}`,
        kind,
        version: '0.1.0',
        image: `sluice/${kind}-test:dev`,
        command: ['/usr/bin/true'],
        spec: spec as object,
      },
    });
  const sourceDefinition = await definition('source', TEST_SOURCE_SPEC);
  const destinationDefinition = await definition('destination', TEST_DESTINATION_SPEC);
  const source = await db.source.create({
    data: {
      workspaceId: workspace.id,
      definitionId: sourceDefinition.id,
      name: 'src',
      config: (opts.sourceConfig ?? { host: 'api.example.test', api_key: 'k' }) as object,
    },
  });
  const destination = await db.destination.create({
    data: {
      workspaceId: workspace.id,
      definitionId: destinationDefinition.id,
      name: 'dst',
      config: (opts.destinationConfig ?? { path: '/tmp/out' }) as object,
    },
  });
  const connection = await db.connection.create({
    data: {
      workspaceId: workspace.id,
      name: 'conn',
      sourceId: source.id,
      destinationId: destination.id,
      catalog: { streams: [] },
    },
  });
  const job = await db.job.create({
    data: { workspaceId: workspace.id, connectionId: connection.id, type: 'sync', config: {} },
  });
  const attempt = await db.attempt.create({ data: { jobId: job.id, attemptNumber: 0 } });
  return {
    workspace,
    sourceDefinition,
    destinationDefinition,
    source,
    destination,
    connection,
    job,
    attempt,
  };
}

/** A sync workload for the fixtures' connection; the source config is the one stored. */
export function syncWorkload(
  f: WorkloadFixtures,
  overrides: Partial<CreateWorkload> & { id: string },
): CreateWorkload {
  const input: WorkloadInput = {
    jobId: f.job.id,
    attemptNumber: 0,
    workspaceId: f.workspace.id,
    connectionId: f.connection.id,
    source: {
      actorType: 'source',
      actorId: f.source.id,
      definitionId: f.sourceDefinition.id,
      image: f.sourceDefinition.image,
      command: f.sourceDefinition.command,
      config: f.source.config as Record<string, unknown>,
    },
    destination: {
      actorType: 'destination',
      actorId: f.destination.id,
      definitionId: f.destinationDefinition.id,
      image: f.destinationDefinition.image,
      command: f.destinationDefinition.command,
      config: f.destination.config as Record<string, unknown>,
    },
    catalog: { streams: [] },
  };
  return {
    type: 'sync',
    input,
    dataplaneGroup: f.workspace.dataplaneGroup,
    mutexKey: `connection:${f.connection.id}`,
    attemptId: f.attempt.id,
    signalInput: { workflowId: `sync-${f.connection.id}`, signalName: 'workload-done' },
    ...overrides,
  };
}

/** A check workload of the fixtures' source. */
export function checkWorkload(
  f: WorkloadFixtures,
  overrides: Partial<CreateWorkload> & { id: string },
): CreateWorkload {
  return {
    type: 'check',
    input: {
      connector: {
        actorType: 'source',
        actorId: f.source.id,
        definitionId: f.sourceDefinition.id,
        image: f.sourceDefinition.image,
        config: f.source.config as Record<string, unknown>,
      },
    },
    dataplaneGroup: f.workspace.dataplaneGroup,
    ...overrides,
  };
}

/** A unique workload id for tests. */
export const testWorkloadId = (label = 'wl') => `${label}-${Date.now().toString(36)}-${suffix()}`;
