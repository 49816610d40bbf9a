import type { ConfiguredAirbyteCatalog } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { StreamRoutes } from './mapping';
import {
  buildStreamMapping,
  destinationDescriptor,
  isIdentityMapping,
  mapConfiguredCatalog,
  socketCountFor,
  socketModeEnv,
  socketPaths,
  socketPathsFit,
} from './plan-support';

const catalog: ConfiguredAirbyteCatalog = {
  streams: [
    {
      stream: { name: 'users', namespace: 'public', json_schema: {}, supported_sync_modes: ['full_refresh'] },
      sync_mode: 'full_refresh',
      destination_sync_mode: 'append',
    },
    {
      stream: { name: 'events', json_schema: {}, supported_sync_modes: ['full_refresh'] },
      sync_mode: 'full_refresh',
      destination_sync_mode: 'append',
    },
  ],
};

// biome-ignore lint/suspicious/noTemplateCurlyInString: Airbyte's placeholder, not a template
const SOURCE_NAMESPACE = '${SOURCE_NAMESPACE}';

describe('stream mapping', () => {
  it('follows Airbyte’s namespace definitions and prefix', () => {
    const src = { name: 'users', namespace: 'public' };
    expect(destinationDescriptor(src, { namespaceDefinition: 'source', prefix: 'p_' })).toEqual({
      name: 'p_users',
      namespace: 'public',
    });
    expect(destinationDescriptor(src, { namespaceDefinition: 'destination' })).toEqual({ name: 'users' });
    expect(
      destinationDescriptor(src, {
        namespaceDefinition: 'customformat',
        namespaceFormat: `raw_${SOURCE_NAMESPACE}`,
      }),
    ).toEqual({
      name: 'users',
      namespace: 'raw_public',
    });
    expect(
      destinationDescriptor(
        { name: 'e' },
        { namespaceDefinition: 'customformat', namespaceFormat: SOURCE_NAMESPACE },
      ),
    ).toEqual({ name: 'e' });
  });

  it('builds the mapping file and the destination catalog', () => {
    const mapping = buildStreamMapping(
      catalog,
      { namespaceDefinition: 'source', prefix: 'x_' },
      new Map([['public\u0000users', ['id']]]),
    );
    expect(mapping.streams).toEqual([
      {
        source: { name: 'users', namespace: 'public' },
        destination: { name: 'x_users', namespace: 'public' },
        selectedFields: ['id'],
      },
      { source: { name: 'events' }, destination: { name: 'x_events' } },
    ]);
    expect(isIdentityMapping(mapping)).toBe(false);
    expect(isIdentityMapping(buildStreamMapping(catalog, { namespaceDefinition: 'source' }))).toBe(true);
    expect(
      mapConfiguredCatalog(catalog, mapping).streams.map((s) => [s.stream.name, s.stream.namespace]),
    ).toEqual([
      ['x_users', 'public'],
      ['x_events', undefined],
    ]);
    const routes = new StreamRoutes(catalog, mapping);
    expect(routes.resolve('users', 'public')).toMatchObject({ destName: 'x_users', fields: ['id'] });
    expect(routes.resolve('users', undefined)).toBeUndefined();
    expect(routes.toSource({ name: 'x_events' })).toEqual({ name: 'events' });
  });

  it('sizes and names the sockets', () => {
    expect(socketCountFor([])).toBe(2);
    expect(socketCountFor([4, 2.5])).toBe(2);
    expect(socketCountFor([0.5])).toBe(1);
    expect(socketCountFor([64, 32])).toBe(16);
    const paths = socketPaths('/w/x', 2);
    expect(paths).toEqual(['/w/x/sockets/socket-0.sock', '/w/x/sockets/socket-1.sock']);
    expect(socketModeEnv(paths)).toEqual({
      DATA_CHANNEL_MEDIUM: 'SOCKET',
      DATA_CHANNEL_FORMAT: 'JSONL',
      DATA_CHANNEL_SOCKET_PATHS: '/w/x/sockets/socket-0.sock,/w/x/sockets/socket-1.sock',
    });
    expect(socketPathsFit(paths)).toBe(true);
    expect(socketPathsFit([`/${'d'.repeat(120)}/s.sock`])).toBe(false);
    expect(() => socketPaths('/w', 0)).toThrow(/socket count/);
  });
});

describe('log masking', () => {
  it('masks values under secret-looking config keys', async () => {
    const { Scrubber, secretValues } = await import('./secrets');
    const values = secretValues({
      host: 'db.example.test',
      password: 'hunter22',
      tunnel: { ssh_key: 'x', private_key: '-----BEGIN KEY-----abc' },
      credentials: { client_id: 'client-123', refresh_token: 'rt-456' },
      list: [{ api_key: 'ak-789' }],
    });
    expect(values.sort()).toEqual(['-----BEGIN KEY-----abc', 'ak-789', 'client-123', 'hunter22', 'rt-456']);
    const s = new Scrubber(values);
    expect(s.scrub('connecting to db.example.test as hunter22 with rt-456')).toBe(
      'connecting to db.example.test as ********** with **********',
    );
  });
});
