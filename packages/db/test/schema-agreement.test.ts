import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../src/testing';
import { type Dmmf, diffShapes, expectedShape, introspectShape, type SchemaShape } from './schema-shape';

// Prisma's own reading of schema.prisma, written by the dmmf generator during `generate`.
async function loadDmmf(): Promise<Dmmf> {
  return JSON.parse(await readFile(new URL('../src/generated/dmmf.json', import.meta.url), 'utf8'));
}

describe('schema.prisma and the migrated database', () => {
  let t: TestDatabase;
  let client: pg.Client;
  let dmmf: Dmmf;
  let actual: SchemaShape;

  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 1 });
    client = new pg.Client({ connectionString: t.url });
    await client.connect();
    dmmf = await loadDmmf();
    actual = await introspectShape(client);
  });

  afterAll(async () => {
    await client?.end();
    await t?.drop();
  });

  it('agree on every enum, table, column, key, index and foreign key', () => {
    const expected = expectedShape(dmmf);
    expect(diffShapes(expected, actual)).toEqual([]);
    // Guard against a vacuous pass (e.g. an empty DMMF or an empty database).
    expect(Object.keys(actual.tables).length).toBe(dmmf.models.length);
    expect(Object.keys(actual.tables).length).toBeGreaterThan(15);
    expect(Object.keys(actual.enums).length).toBe(dmmf.enums.length);
  });

  it('spot-checks the mapping against hand-written expectations', () => {
    const workloads = actual.tables.workloads;
    expect(workloads?.columns.auto_id).toEqual({
      type: 'uuid',
      nullable: false,
      default: 'gen_random_uuid()',
    });
    expect(workloads?.columns.status).toEqual({
      type: 'workload_status',
      nullable: false,
      default: "'pending'::workload_status",
    });
    expect(workloads?.indexes.workloads_status_deadline_idx).toEqual({
      unique: false,
      columns: ['status', 'deadline'],
    });
    expect(actual.tables.attempt_log_chunks?.primaryKey).toEqual({
      name: 'attempt_log_chunks_pkey',
      columns: ['attempt_id', 'sequence'],
    });
    expect(actual.tables.connections?.foreignKeys.connections_source_catalog_id_fkey).toEqual({
      columns: ['source_catalog_id'],
      refTable: 'actor_catalogs',
      refColumns: ['id'],
      onDelete: 'SetNull',
      onUpdate: 'Cascade',
    });
    expect(actual.tables.notification_webhooks?.columns.events).toEqual({
      type: 'notification_event[]',
      nullable: true,
      default: 'ARRAY[]::notification_event[]',
    });
    expect(actual.enums.state_type).toEqual(['STREAM', 'GLOBAL', 'LEGACY']);
  });

  it('reports a field added to schema.prisma without a migration', () => {
    const edited: Dmmf = structuredClone(dmmf);
    const job = edited.models.find((m) => m.name === 'Job');
    job?.fields.push({
      name: 'priority',
      kind: 'scalar',
      isList: false,
      isRequired: true,
      isId: false,
      isUpdatedAt: false,
      hasDefaultValue: true,
      type: 'Int',
      default: 0,
    });
    expect(diffShapes(expectedShape(edited), actual)).toEqual([
      'column jobs.priority: in schema.prisma, missing from the database',
    ]);
  });

  it('reports database changes made without touching schema.prisma', async () => {
    await client.query('BEGIN');
    try {
      await client.query('ALTER TABLE "sessions" DROP COLUMN "user_agent"');
      await client.query('ALTER TABLE "users" ALTER COLUMN "name" DROP DEFAULT');
      await client.query('CREATE INDEX "jobs_type_idx" ON "jobs"("type")');
      await client.query('ALTER TABLE "attempts" DROP CONSTRAINT "attempts_job_id_fkey"');
      await client.query(
        'ALTER TABLE "attempts" ADD CONSTRAINT "attempts_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE RESTRICT ON UPDATE CASCADE',
      );
      await client.query(`ALTER TYPE "job_type" ADD VALUE 'refresh'`);
      await client.query('CREATE TABLE "stray" ("id" INTEGER PRIMARY KEY)');
      const diff = diffShapes(expectedShape(dmmf), await introspectShape(client));
      expect(diff).toEqual(
        expect.arrayContaining([
          'column sessions.user_agent: in schema.prisma, missing from the database',
          `column users.name: schema.prisma says {"type":"text","nullable":false,"default":"''::text"}, database has {"type":"text","nullable":false,"default":null}`,
          'index jobs_type_idx on jobs: in the database, not in schema.prisma',
          expect.stringMatching(
            /^foreign key attempts_job_id_fkey on attempts: .*"onDelete":"Cascade".*"onDelete":"Restrict"/,
          ),
          expect.stringMatching(/^enum job_type: .*refresh/),
          'table stray: in the database, not in schema.prisma',
        ]),
      );
      expect(diff).toHaveLength(6);
    } finally {
      await client.query('ROLLBACK');
    }
  });
});
