import type { AirbyteCatalog } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import {
  buildConfiguredCatalog,
  type ConnectionCatalog,
  diffCatalogs,
  fieldExists,
  validateConnectionCatalog,
} from '../src/validation/catalog';

const discovered: AirbyteCatalog = {
  streams: [
    {
      name: 'users',
      json_schema: {
        type: 'object',
        required: ['id', 'email'],
        properties: {
          id: { type: 'integer' },
          email: { type: 'string' },
          profile: {
            anyOf: [{ type: 'null' }, { type: 'object', properties: { plan: { type: 'string' } } }],
          },
          blob: { type: 'object' },
        },
      },
      supported_sync_modes: ['full_refresh', 'incremental'],
      default_cursor_field: ['profile', 'plan'],
    },
    {
      name: 'logs',
      namespace: 'ops',
      json_schema: { type: 'object' },
      supported_sync_modes: ['full_refresh'],
    },
  ],
};

describe('catalog helpers', () => {
  it('finds fields through anyOf branches and accepts any name below a schemaless level', () => {
    const schema = discovered.streams[0]!.json_schema as Record<string, unknown>;
    expect(fieldExists(schema, ['profile', 'plan'])).toBe(true);
    expect(fieldExists(schema, ['profile', 'tier'])).toBe(false);
    expect(fieldExists(schema, ['blob', 'anything'])).toBe(true);
    expect(fieldExists(schema, ['nope'])).toBe(false);
  });

  it('builds the configured catalog a sync runs with: selected streams, narrowed schemas', () => {
    const choices = validateConnectionCatalog(
      {
        streams: [
          {
            stream: { name: 'users' },
            selected: true,
            syncMode: 'incremental',
            destinationSyncMode: 'append_dedup',
            primaryKey: [['id']],
            selectedFields: ['id', 'profile'],
          },
          {
            stream: { name: 'logs', namespace: 'ops' },
            selected: false,
            syncMode: 'full_refresh',
            destinationSyncMode: 'append',
          },
        ],
      },
      discovered,
    );
    const configured = buildConfiguredCatalog(choices, discovered);
    expect(configured.streams).toHaveLength(1);
    const users = configured.streams[0]!;
    expect(users).toMatchObject({
      sync_mode: 'incremental',
      destination_sync_mode: 'append_dedup',
      cursor_field: ['profile', 'plan'],
      primary_key: [['id']],
    });
    expect(Object.keys((users.stream.json_schema as { properties: object }).properties)).toEqual([
      'id',
      'profile',
    ]);
    expect((users.stream.json_schema as { required: string[] }).required).toEqual(['id']);
  });
});

describe('schema changes (diffCatalogs)', () => {
  const stream = (name: string, fields: Record<string, unknown>, extra: object = {}) => ({
    name,
    json_schema: { type: 'object', properties: fields },
    supported_sync_modes: ['full_refresh' as const, 'incremental' as const],
    ...extra,
  });
  const before: AirbyteCatalog = {
    streams: [
      stream(
        'users',
        { id: { type: 'integer' }, updated_at: { type: 'string' }, name: { type: 'string' } },
        { source_defined_primary_key: [['id']] },
      ),
      stream('orders', { order_id: { type: 'integer' }, total: { type: 'number' } }),
      stream('logs', { line: { type: 'string' } }),
    ],
  };
  const choices: ConnectionCatalog = {
    streams: [
      {
        stream: { name: 'users' },
        selected: true,
        syncMode: 'incremental',
        destinationSyncMode: 'append_dedup',
        cursorField: ['updated_at'],
        primaryKey: [['id']],
      },
      {
        stream: { name: 'orders' },
        selected: true,
        syncMode: 'incremental',
        destinationSyncMode: 'append',
        cursorField: ['order_id'],
      },
      { stream: { name: 'logs' }, selected: false, syncMode: 'full_refresh', destinationSyncMode: 'append' },
    ],
  };
  const change = (d: ReturnType<typeof diffCatalogs>, name: string) =>
    d.streams.find((s) => s.stream.name === name);

  it('counts new streams, removed unselected streams, non-key field changes and type changes as non-breaking', () => {
    const after: AirbyteCatalog = {
      streams: [
        stream(
          'users',
          // name removed, email added, id changes type (a key field, still there)
          { id: { type: 'string' }, updated_at: { type: 'string' }, email: { type: 'string' } },
          { source_defined_primary_key: [['id']] },
        ),
        stream('orders', { order_id: { type: 'integer' }, total: { type: 'number' } }),
        stream('invoices', { n: { type: 'integer' } }),
      ],
    };
    const d = diffCatalogs(before, after, choices);
    expect(d.breaking).toBe(false);
    expect(change(d, 'invoices')).toEqual({ stream: { name: 'invoices' }, change: 'added', fields: [] });
    expect(change(d, 'logs')).toEqual({ stream: { name: 'logs' }, change: 'removed', fields: [] });
    expect(change(d, 'users')?.fields).toEqual(
      expect.arrayContaining([
        { path: ['id'], change: 'changed', breaking: false },
        { path: ['email'], change: 'added', breaking: false },
        { path: ['name'], change: 'removed', breaking: false },
      ]),
    );
    expect(change(d, 'orders')).toBeUndefined();
  });

  it('counts a selected stream removed, its cursor or key field removed, or its sync mode gone as breaking', () => {
    const after: AirbyteCatalog = {
      streams: [
        stream('users', { updated_at: { type: 'string' }, name: { type: 'string' } }),
        { ...stream('logs', { line: { type: 'string' } }), supported_sync_modes: ['full_refresh'] },
      ],
    };
    const d = diffCatalogs(before, after, choices);
    expect(d.breaking).toBe(true);
    expect(change(d, 'orders')).toMatchObject({
      change: 'removed',
      breakingReason: 'the selected stream was removed from the source',
    });
    expect(change(d, 'users')).toMatchObject({
      breakingReason: 'the primary-key field id was removed',
      fields: [{ path: ['id'], change: 'removed', breaking: true }],
    });
    // Unselected: nothing it uses changed.
    expect(change(d, 'logs')).toBeUndefined();

    const noCursor = diffCatalogs(
      before,
      { streams: [stream('users', { id: { type: 'integer' } }), before.streams[1]!, before.streams[2]!] },
      choices,
    );
    expect(change(noCursor, 'users')?.breakingReason).toBe('the cursor field updated_at was removed');

    const fullOnly = diffCatalogs(
      before,
      {
        streams: [
          { ...before.streams[0]!, supported_sync_modes: ['full_refresh'] },
          before.streams[1]!,
          before.streams[2]!,
        ],
      },
      choices,
    );
    expect(change(fullOnly, 'users')).toMatchObject({
      fields: [],
      breakingReason: 'the stream no longer supports incremental',
    });
  });

  it('counts a new source-defined primary key as breaking only for a stream that deduplicates on the old one', () => {
    const rekeyed = (s: AirbyteCatalog['streams'][number]) => ({
      ...s,
      source_defined_primary_key: [['name']],
    });
    const d = diffCatalogs(
      before,
      { streams: [rekeyed(before.streams[0]!), before.streams[1]!, before.streams[2]!] },
      choices,
    );
    expect(change(d, 'users')?.breakingReason).toMatch(/primary key changed to name/);
    const appending: ConnectionCatalog = {
      streams: choices.streams.map((c) =>
        c.stream.name === 'users' ? { ...c, destinationSyncMode: 'append' as const } : c,
      ),
    };
    const quiet = diffCatalogs(
      before,
      { streams: [rekeyed(before.streams[0]!), before.streams[1]!, before.streams[2]!] },
      appending,
    );
    expect(quiet.breaking).toBe(false);
  });
});
