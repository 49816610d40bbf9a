import type { AirbyteCatalog } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { buildConfiguredCatalog, fieldExists, validateConnectionCatalog } from '../src/validation/catalog';

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
