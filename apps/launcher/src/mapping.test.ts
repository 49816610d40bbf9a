import { SOURCE_NAMESPACE_PLACEHOLDER } from '@sluice/middleware';
import { describe, expect, it } from 'vitest';
import { buildSyncCatalogs, mapNamespace, mapStream } from './mapping';

const SRC = SOURCE_NAMESPACE_PLACEHOLDER;

const stream = (name: string, namespace?: string, extra: Record<string, unknown> = {}) => ({
  stream: {
    name,
    ...(namespace ? { namespace } : {}),
    json_schema: {
      type: 'object',
      required: ['id', 'name'],
      properties: { id: { type: 'integer' }, name: { type: 'string' }, email: { type: 'string' } },
    },
    supported_sync_modes: ['full_refresh' as const],
  },
  sync_mode: 'full_refresh' as const,
  destination_sync_mode: 'append' as const,
  ...extra,
});

describe('namespace mapping (Airbyte rules)', () => {
  it('maps namespaces by definition', () => {
    expect(mapNamespace('public', { namespaceDefinition: 'source' })).toBe('public');
    expect(mapNamespace(undefined, { namespaceDefinition: 'source' })).toBeUndefined();
    expect(mapNamespace('public', { namespaceDefinition: 'destination' })).toBeUndefined();
    expect(mapNamespace('public', {})).toBeUndefined();
    expect(
      mapNamespace('public', {
        namespaceDefinition: 'customformat',
        namespaceFormat: `${SRC}_raw`,
      }),
    ).toBe('public_raw');
    expect(
      mapNamespace('a', {
        namespaceDefinition: 'customformat',
        namespaceFormat: `x_${SRC}_${SRC}`,
      }),
    ).toBe('x_a_a');
    // A blank result means the destination's default.
    expect(
      mapNamespace(undefined, {
        namespaceDefinition: 'customformat',
        namespaceFormat: SRC,
      }),
    ).toBeUndefined();
    expect(mapNamespace('a', { namespaceDefinition: 'customformat', namespaceFormat: '  ' })).toBeUndefined();
  });

  it('prefixes stream names', () => {
    expect(
      mapStream({ name: 'users', namespace: 'public' }, { namespaceDefinition: 'source', prefix: 'pg_' }),
    ).toEqual({
      name: 'pg_users',
      namespace: 'public',
    });
    expect(mapStream({ name: 'users', namespace: 'public' }, { prefix: 'pg_' })).toEqual({
      name: 'pg_users',
    });
  });
});

describe('buildSyncCatalogs', () => {
  it('keeps source names for the source and maps the destination catalog and records', () => {
    const catalog = {
      streams: [stream('users', 'public', { selectedFields: ['id', 'email'] }), stream('orders', 'public')],
    };
    const out = buildSyncCatalogs(catalog, {
      namespaceDefinition: 'customformat',
      namespaceFormat: `${SRC}_raw`,
      prefix: 'p_',
    });

    expect(out.source.streams.map((s) => [s.stream.namespace, s.stream.name])).toEqual([
      ['public', 'users'],
      ['public', 'orders'],
    ]);
    // Sluice's extensions never reach a connector.
    expect(JSON.stringify(out.source)).not.toContain('selectedFields');
    expect(JSON.stringify(out.destination)).not.toContain('selectedFields');

    expect(out.destination.streams.map((s) => [s.stream.namespace, s.stream.name])).toEqual([
      ['public_raw', 'p_users'],
      ['public_raw', 'p_orders'],
    ]);
    // Only selected fields in the destination's schema; the source's is untouched.
    expect(Object.keys(out.destination.streams[0]!.stream.json_schema.properties as object)).toEqual([
      'id',
      'email',
    ]);
    expect(out.destination.streams[0]!.stream.json_schema.required).toEqual(['id']);
    expect(Object.keys(out.source.streams[0]!.stream.json_schema.properties as object)).toHaveLength(3);
    expect(Object.keys(out.destination.streams[1]!.stream.json_schema.properties as object)).toHaveLength(3);

    expect(out.mapping).toEqual({
      streams: [
        {
          source: { name: 'users', namespace: 'public' },
          destination: { name: 'p_users', namespace: 'public_raw' },
          selectedFields: ['id', 'email'],
        },
        {
          source: { name: 'orders', namespace: 'public' },
          destination: { name: 'p_orders', namespace: 'public_raw' },
        },
      ],
    });
  });

  it('drops the namespace for the destination default and leaves out unselected streams', () => {
    const out = buildSyncCatalogs(
      { streams: [stream('users', 'public'), stream('skip', 'public', { selected: false })] },
      {},
    );
    expect(out.destination.streams).toHaveLength(1);
    expect(out.destination.streams[0]!.stream).not.toHaveProperty('namespace');
    expect(out.source.streams).toHaveLength(1);
    expect(out.mapping.streams[0]!.destination).toEqual({ name: 'users' });
  });

  it('refuses two streams landing in one destination stream, and a stream listed twice', () => {
    const catalog = { streams: [stream('users', 'a'), stream('users', 'b')] };
    expect(() => buildSyncCatalogs(catalog, { namespaceDefinition: 'destination' })).toThrow(
      /a\.users and b\.users would both be written to destination stream users/,
    );
    expect(buildSyncCatalogs(catalog, { namespaceDefinition: 'source' }).destination.streams).toHaveLength(2);
    expect(() => buildSyncCatalogs({ streams: [stream('u'), stream('u')] }, {})).toThrow(
      /lists stream u twice/,
    );
  });

  it('refuses malformed selectedFields', () => {
    expect(() =>
      buildSyncCatalogs({ streams: [stream('u', undefined, { selectedFields: 'id' })] }, {}),
    ).toThrow(/selectedFields must be a list/);
  });
});
