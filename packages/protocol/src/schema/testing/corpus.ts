import type { Case, StringSamples } from './generate';

/**
 * Hand-written cases: messages as real connectors emit them, and the corners where a zod schema
 * and a JSON Schema validator tend to part ways (integer vs number, big and negative integers,
 * formats, nulls, empty objects, payload-less messages). Labels follow the YAML, not intuition.
 */

const NOW = 1_700_000_000_000;

const streamDescriptor = { name: 'users', namespace: 'public' };

const airbyteStream = {
  name: 'users',
  namespace: 'public',
  json_schema: {
    type: 'object',
    properties: {
      id: { type: 'integer' },
      name: { type: ['null', 'string'] },
      updated_at: { $ref: 'WellKnownTypes.json#/definitions/TimestampWithTimezone' },
    },
  },
  supported_sync_modes: ['full_refresh', 'incremental'],
  source_defined_cursor: true,
  default_cursor_field: ['updated_at'],
  source_defined_primary_key: [['id']],
  is_resumable: true,
  is_file_based: false,
};

const spec = {
  documentationUrl: 'https://docs.airbyte.com/integrations/sources/github',
  changelogUrl: 'https://docs.airbyte.com/integrations/sources/github#changelog',
  connectionSpecification: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    required: ['credentials'],
    properties: {
      credentials: {
        oneOf: [
          {
            title: 'OAuth',
            type: 'object',
            properties: {
              option_title: { type: 'string', const: 'OAuth Credentials' },
              access_token: { type: 'string', airbyte_secret: true },
            },
          },
        ],
      },
    },
  },
  supportsIncremental: true,
  supportsNormalization: false,
  supportsDBT: false,
  supported_destination_sync_modes: ['append', 'overwrite', 'append_dedup', 'update', 'soft_delete'],
  authSpecification: {
    auth_type: 'oauth2.0',
    oauth2Specification: {
      rootObject: ['credentials', 0],
      oauthFlowInitParameters: [['client_id'], ['client_secret']],
      oauthFlowOutputParameters: [['access_token']],
    },
  },
  advanced_auth: {
    auth_flow_type: 'oauth2.0',
    predicate_key: ['credentials', 'option_title'],
    predicate_value: 'OAuth Credentials',
    oauth_config_specification: {
      oauth_user_input_from_connector_config_specification: {
        type: 'object',
        properties: { subdomain: { type: 'string', path_in_connector_config: ['subdomain'] } },
      },
      oauth_connector_input_specification: {
        consent_url:
          'https://github.com/login/oauth/authorize?{{client_id_key}}={{client_id_value}}&{{redirect_uri_key}}={{redirect_uri_value}}',
        scope: 'repo read:org',
        access_token_url: 'https://github.com/login/oauth/access_token',
        access_token_headers: { Accept: 'application/json' },
        access_token_params: { grant_type: 'authorization_code' },
        extract_output: ['access_token', 'refresh_token'],
        state: { min: 7, max: 128 },
        client_id_key: 'client_id',
        client_secret_key: 'client_secret',
        scope_key: 'scope',
        state_key: 'state',
        auth_code_key: 'code',
        redirect_uri_key: 'redirect_uri',
        token_expiry_key: 'expires_at',
      },
      complete_oauth_output_specification: {
        type: 'object',
        properties: {
          access_token: { type: 'string', path_in_connector_config: ['credentials', 'access_token'] },
        },
      },
      complete_oauth_server_input_specification: {
        type: 'object',
        properties: { client_id: { type: 'string' }, client_secret: { type: 'string' } },
      },
      complete_oauth_server_output_specification: {
        type: 'object',
        properties: { client_id: { type: 'string', path_in_connector_config: ['credentials', 'client_id'] } },
      },
    },
  },
  protocol_version: '0.5.2',
};

const record = (fields: Record<string, unknown>) => ({
  type: 'RECORD',
  record: { stream: 'users', data: { id: 1, name: 'Ada' }, emitted_at: NOW, ...fields },
});
const trace = (fields: Record<string, unknown>) => ({ type: 'TRACE', trace: { emitted_at: NOW, ...fields } });
const message = (description: string, value: unknown, valid: boolean): Case => ({
  definition: 'AirbyteMessage',
  description,
  value,
  valid,
});

export const HAND_WRITTEN_CASES: readonly Case[] = [
  // RECORD
  message('minimal record', record({}), true),
  message('record with namespace', record({ namespace: 'public' }), true),
  message(
    'record with meta.changes',
    record({
      meta: {
        changes: [
          { field: 'bio', change: 'TRUNCATED', reason: 'SOURCE_FIELD_SIZE_LIMITATION' },
          { field: 'avatar', change: 'NULLED', reason: 'DESTINATION_TYPECAST_ERROR' },
        ],
      },
    }),
    true,
  ),
  message('record with empty meta', record({ meta: {} }), true),
  message('record with empty meta.changes', record({ meta: { changes: [] } }), true),
  message(
    'record with file_reference',
    record({
      file_reference: {
        staging_file_url: '/staging/users/avatar.png',
        source_file_relative_path: 'avatars/avatar.png',
        file_size_bytes: 52_113,
      },
    }),
    true,
  ),
  message(
    'record with a file larger than 2^53 bytes',
    record({ file_reference: { file_size_bytes: 2 ** 60 } }),
    true,
  ),
  message(
    'record with fractional file_size_bytes',
    record({ file_reference: { file_size_bytes: 10.5 } }),
    false,
  ),
  message('record with empty data', record({ data: {} }), true),
  message(
    'record with nested data and nulls',
    record({ data: { a: null, b: [1, { c: null }], d: '' } }),
    true,
  ),
  message('record whose data is an array', record({ data: [{ id: 1 }] }), false),
  message('record whose data is null', record({ data: null }), false),
  message('record whose data is a JSON string', record({ data: '{"id":1}' }), false),
  message('record with emitted_at 0', record({ emitted_at: 0 }), true),
  message('record with negative emitted_at', record({ emitted_at: -1 }), true),
  message('record with emitted_at beyond 2^53', record({ emitted_at: 2 ** 60 }), true),
  message('record with fractional emitted_at', record({ emitted_at: NOW + 0.5 }), false),
  message('record with emitted_at 1e-7', record({ emitted_at: 1e-7 }), false),
  message('record with emitted_at as a string', record({ emitted_at: String(NOW) }), false),
  message('record with numeric stream name', record({ stream: 5 }), false),
  message('record with null namespace', record({ namespace: null }), false),
  message(
    'record with meta.changes holding an unknown reason',
    record({ meta: { changes: [{ field: 'x', change: 'NULLED', reason: 'COSMIC_RAY' }] } }),
    false,
  ),
  message('record with meta.changes as an object', record({ meta: { changes: { field: 'x' } } }), false),
  message(
    'record carrying socket-mode partition_id (unknown, kept)',
    { ...record({ partition_id: 'p-3' }) },
    true,
  ),

  // Payload-less and mixed messages: the YAML only requires `type`.
  message('RECORD type without a record', { type: 'RECORD' }, true),
  message('STATE type without a state', { type: 'STATE' }, true),
  message(
    'RECORD type carrying a log payload as well',
    { ...record({}), log: { level: 'INFO', message: 'hi' } },
    true,
  ),
  message('no type', { record: { stream: 'users', data: {}, emitted_at: NOW } }, false),
  message('lower-case type', { type: 'record' }, false),
  message('null type', { type: null }, false),
  message('null payload', { type: 'RECORD', record: null }, false),
  message('empty object', {}, false),
  message('array', [{ type: 'RECORD' }], false),
  message('string', 'RECORD', false),
  message('number', 1, false),
  message('null', null, false),

  // STATE
  message(
    'STREAM state with stats',
    {
      type: 'STATE',
      state: {
        type: 'STREAM',
        stream: { stream_descriptor: streamDescriptor, stream_state: { cursor: '2024-01-01T00:00:00Z' } },
        sourceStats: { recordCount: 100.0 },
        destinationStats: { recordCount: 98.0, rejectedRecordCount: 2.0 },
      },
    },
    true,
  ),
  message(
    'STREAM state without stream_state',
    { type: 'STATE', state: { type: 'STREAM', stream: { stream_descriptor: { name: 'users' } } } },
    true,
  ),
  message(
    'STREAM state without stream_descriptor',
    { type: 'STATE', state: { type: 'STREAM', stream: { stream_state: {} } } },
    false,
  ),
  message(
    'state stream_descriptor without name',
    { type: 'STATE', state: { type: 'STREAM', stream: { stream_descriptor: { namespace: 'x' } } } },
    false,
  ),
  message(
    'stream state blob as an array',
    {
      type: 'STATE',
      state: { type: 'STREAM', stream: { stream_descriptor: streamDescriptor, stream_state: [1] } },
    },
    false,
  ),
  message(
    'stream state blob as a string',
    {
      type: 'STATE',
      state: { type: 'STREAM', stream: { stream_descriptor: streamDescriptor, stream_state: 'cursor' } },
    },
    false,
  ),
  message(
    'GLOBAL state',
    {
      type: 'STATE',
      state: {
        type: 'GLOBAL',
        global: {
          shared_state: { lsn: 123456789 },
          stream_states: [
            { stream_descriptor: { name: 'users', namespace: 'public' }, stream_state: { pk: 10 } },
            { stream_descriptor: { name: 'orders' } },
          ],
        },
        sourceStats: { recordCount: 1e15 },
      },
    },
    true,
  ),
  message(
    'GLOBAL state with empty stream_states',
    { type: 'STATE', state: { type: 'GLOBAL', global: { stream_states: [] } } },
    true,
  ),
  message(
    'GLOBAL state without stream_states',
    { type: 'STATE', state: { type: 'GLOBAL', global: { shared_state: {} } } },
    false,
  ),
  message('LEGACY state', { type: 'STATE', state: { type: 'LEGACY', data: { users: { cursor: 5 } } } }, true),
  message('state without type (read as LEGACY)', { type: 'STATE', state: { data: { cursor: 5 } } }, true),
  message('empty state object', { type: 'STATE', state: {} }, true),
  message(
    'PER_STREAM state type (the prose name, not an enum value)',
    { type: 'STATE', state: { type: 'PER_STREAM' } },
    false,
  ),
  message(
    'fractional recordCount (declared number)',
    { type: 'STATE', state: { sourceStats: { recordCount: 10.5 } } },
    true,
  ),
  message(
    'negative recordCount (no minimum)',
    { type: 'STATE', state: { sourceStats: { recordCount: -1 } } },
    true,
  ),
  message('recordCount as a string', { type: 'STATE', state: { sourceStats: { recordCount: '10' } } }, false),
  message(
    'socket-mode state with id and partition_id',
    {
      type: 'STATE',
      state: {
        type: 'STREAM',
        id: 4,
        partition_id: 'p-1',
        stream: { stream_descriptor: streamDescriptor },
        sourceStats: { recordCount: 3.0 },
      },
    },
    true,
  ),

  // LOG
  ...(['FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE'] as const).map((level) =>
    message(`log at ${level}`, { type: 'LOG', log: { level, message: `a ${level} line` } }, true),
  ),
  message(
    'log with stack_trace',
    { type: 'LOG', log: { level: 'ERROR', message: 'boom', stack_trace: 'Error: boom\n    at x' } },
    true,
  ),
  message('log with empty message', { type: 'LOG', log: { level: 'INFO', message: '' } }, true),
  message(
    'log at WARNING (not an enum value)',
    { type: 'LOG', log: { level: 'WARNING', message: 'x' } },
    false,
  ),
  message('log without message', { type: 'LOG', log: { level: 'INFO' } }, false),
  message('log with numeric message', { type: 'LOG', log: { level: 'INFO', message: 42 } }, false),

  // TRACE
  message(
    'error trace',
    trace({
      type: 'ERROR',
      error: {
        message: 'Something went wrong in the connector. See the logs for more details.',
        internal_message: 'ECONNREFUSED 127.0.0.1:5432',
        stack_trace: 'Error: connect ECONNREFUSED',
        failure_type: 'config_error',
        stream_descriptor: streamDescriptor,
      },
    }),
    true,
  ),
  ...(['system_error', 'config_error', 'transient_error'] as const).map((failure_type) =>
    message(
      `error trace ${failure_type}`,
      trace({ type: 'ERROR', error: { message: 'x', failure_type } }),
      true,
    ),
  ),
  message(
    'error trace with failure_type in upper case',
    trace({ type: 'ERROR', error: { message: 'x', failure_type: 'CONFIG_ERROR' } }),
    false,
  ),
  message(
    'error trace without message',
    trace({ type: 'ERROR', error: { failure_type: 'system_error' } }),
    false,
  ),
  message(
    'trace with fractional emitted_at (declared number)',
    trace({ type: 'ERROR', emitted_at: NOW + 0.25, error: { message: 'x' } }),
    true,
  ),
  message(
    'trace without emitted_at',
    { type: 'TRACE', trace: { type: 'ERROR', error: { message: 'x' } } },
    false,
  ),
  message(
    'stream estimate',
    trace({
      type: 'ESTIMATE',
      estimate: {
        name: 'users',
        namespace: 'public',
        type: 'STREAM',
        row_estimate: 1000,
        byte_estimate: 2 ** 40,
      },
    }),
    true,
  ),
  message('sync estimate', trace({ type: 'ESTIMATE', estimate: { name: '', type: 'SYNC' } }), true),
  message(
    'estimate with fractional row_estimate',
    trace({ type: 'ESTIMATE', estimate: { name: 'users', type: 'STREAM', row_estimate: 1.5 } }),
    false,
  ),
  message('estimate without type', trace({ type: 'ESTIMATE', estimate: { name: 'users' } }), false),
  ...(['STARTED', 'RUNNING', 'COMPLETE', 'INCOMPLETE'] as const).map((status) =>
    message(
      `stream status ${status}`,
      trace({ type: 'STREAM_STATUS', stream_status: { stream_descriptor: streamDescriptor, status } }),
      true,
    ),
  ),
  message(
    'stream status rate limited',
    trace({
      type: 'STREAM_STATUS',
      stream_status: {
        stream_descriptor: { name: 'users' },
        status: 'RUNNING',
        reasons: [{ type: 'RATE_LIMITED', rate_limited: { quota_reset: NOW + 60_000 } }],
      },
    }),
    true,
  ),
  message(
    'rate limited reason without details',
    trace({
      type: 'STREAM_STATUS',
      stream_status: {
        stream_descriptor: { name: 'u' },
        status: 'RUNNING',
        reasons: [{ type: 'RATE_LIMITED' }],
      },
    }),
    true,
  ),
  message(
    'rate limited reason with empty details',
    trace({
      type: 'STREAM_STATUS',
      stream_status: {
        stream_descriptor: { name: 'u' },
        status: 'RUNNING',
        reasons: [{ type: 'RATE_LIMITED', rate_limited: {} }],
      },
    }),
    true,
  ),
  message(
    'reason of unknown type',
    trace({
      type: 'STREAM_STATUS',
      stream_status: { stream_descriptor: { name: 'u' }, status: 'RUNNING', reasons: [{ type: 'BACKOFF' }] },
    }),
    false,
  ),
  message(
    'reason without type',
    trace({
      type: 'STREAM_STATUS',
      stream_status: { stream_descriptor: { name: 'u' }, status: 'RUNNING', reasons: [{}] },
    }),
    false,
  ),
  message(
    'fractional quota_reset',
    trace({
      type: 'STREAM_STATUS',
      stream_status: {
        stream_descriptor: { name: 'u' },
        status: 'RUNNING',
        reasons: [{ type: 'RATE_LIMITED', rate_limited: { quota_reset: 1.5 } }],
      },
    }),
    false,
  ),
  message(
    'stream status FAILED (not an enum value)',
    trace({ type: 'STREAM_STATUS', stream_status: { stream_descriptor: { name: 'u' }, status: 'FAILED' } }),
    false,
  ),
  message(
    'analytics trace',
    trace({ type: 'ANALYTICS', analytics: { type: 'sql-source-used-cursor-count-indexed', value: '2' } }),
    true,
  ),
  message(
    'analytics trace without value',
    trace({ type: 'ANALYTICS', analytics: { type: 'mongodb-cluster-version' } }),
    true,
  ),
  message(
    'analytics trace with numeric value',
    trace({ type: 'ANALYTICS', analytics: { type: 'x', value: 2 } }),
    false,
  ),

  // CONTROL
  message(
    'connector config control',
    {
      type: 'CONTROL',
      control: {
        type: 'CONNECTOR_CONFIG',
        emitted_at: NOW,
        connectorConfig: { config: { refresh_token: 'r', nested: { a: 1 } } },
      },
    },
    true,
  ),
  message(
    'control with empty config',
    {
      type: 'CONTROL',
      control: { type: 'CONNECTOR_CONFIG', emitted_at: NOW, connectorConfig: { config: {} } },
    },
    true,
  ),
  message(
    'control without connectorConfig',
    { type: 'CONTROL', control: { type: 'CONNECTOR_CONFIG', emitted_at: NOW } },
    true,
  ),
  message(
    'control whose config is null',
    {
      type: 'CONTROL',
      control: { type: 'CONNECTOR_CONFIG', emitted_at: NOW, connectorConfig: { config: null } },
    },
    false,
  ),
  message(
    'control of unknown type',
    { type: 'CONTROL', control: { type: 'CONNECTOR_STATE', emitted_at: NOW } },
    false,
  ),

  // SPEC
  message('spec with oauth and advanced_auth', { type: 'SPEC', spec }, true),
  message('minimal spec', { type: 'SPEC', spec: { connectionSpecification: {} } }, true),
  message(
    'spec without connectionSpecification',
    { type: 'SPEC', spec: { documentationUrl: 'https://example.com' } },
    false,
  ),
  message(
    'spec with a relative documentationUrl',
    { type: 'SPEC', spec: { ...spec, documentationUrl: 'docs/source.md' } },
    false,
  ),
  message(
    'spec with an empty documentationUrl',
    { type: 'SPEC', spec: { ...spec, documentationUrl: '' } },
    false,
  ),
  message(
    'spec with a documentationUrl holding a space',
    { type: 'SPEC', spec: { ...spec, documentationUrl: 'https://docs.example.com/a b' } },
    false,
  ),
  message(
    'spec with a urn changelogUrl',
    { type: 'SPEC', spec: { ...spec, changelogUrl: 'urn:airbyte:changelog' } },
    true,
  ),
  message(
    'spec with rootObject holding a fractional number',
    {
      type: 'SPEC',
      spec: { ...spec, authSpecification: { oauth2Specification: { rootObject: ['credentials', 0.5] } } },
    },
    false,
  ),
  message(
    'spec with rootObject holding a boolean',
    { type: 'SPEC', spec: { ...spec, authSpecification: { oauth2Specification: { rootObject: [true] } } } },
    false,
  ),
  message(
    'spec with auth_type oauth1.0 (only advanced_auth allows it)',
    { type: 'SPEC', spec: { ...spec, authSpecification: { auth_type: 'oauth1.0' } } },
    false,
  ),
  message(
    'spec with advanced_auth oauth1.0',
    { type: 'SPEC', spec: { ...spec, advanced_auth: { auth_flow_type: 'oauth1.0' } } },
    true,
  ),
  message('spec with empty advanced_auth', { type: 'SPEC', spec: { ...spec, advanced_auth: {} } }, true),
  message(
    'spec whose oauth_connector_input_specification lacks access_token_url',
    {
      type: 'SPEC',
      spec: {
        ...spec,
        advanced_auth: {
          oauth_config_specification: { oauth_connector_input_specification: { consent_url: 'x' } },
        },
      },
    },
    false,
  ),
  message(
    'spec whose oauth state bounds are fractional',
    {
      type: 'SPEC',
      spec: {
        ...spec,
        advanced_auth: {
          oauth_config_specification: {
            oauth_connector_input_specification: {
              consent_url: 'x',
              access_token_url: 'y',
              state: { min: 7.5 },
            },
          },
        },
      },
    },
    false,
  ),
  message(
    'spec with an unknown destination sync mode',
    { type: 'SPEC', spec: { ...spec, supported_destination_sync_modes: ['append', 'upsert'] } },
    false,
  ),
  message(
    'spec with supportsNormalization null (default false, not nullable)',
    { type: 'SPEC', spec: { ...spec, supportsNormalization: null } },
    false,
  ),

  // CONNECTION_STATUS
  message('check succeeded', { type: 'CONNECTION_STATUS', connectionStatus: { status: 'SUCCEEDED' } }, true),
  message(
    'check failed with message',
    { type: 'CONNECTION_STATUS', connectionStatus: { status: 'FAILED', message: 'bad password' } },
    true,
  ),
  message(
    'check status in lower case',
    { type: 'CONNECTION_STATUS', connectionStatus: { status: 'succeeded' } },
    false,
  ),
  message('check without status', { type: 'CONNECTION_STATUS', connectionStatus: { message: 'x' } }, false),

  // CATALOG
  message(
    'catalog',
    {
      type: 'CATALOG',
      catalog: {
        streams: [airbyteStream, { name: 'orders', json_schema: {}, supported_sync_modes: ['full_refresh'] }],
      },
    },
    true,
  ),
  message('empty catalog', { type: 'CATALOG', catalog: { streams: [] } }, true),
  message(
    'stream without sync modes',
    { type: 'CATALOG', catalog: { streams: [{ ...airbyteStream, supported_sync_modes: [] }] } },
    false,
  ),
  message(
    'stream with duplicate sync modes (no uniqueItems)',
    {
      type: 'CATALOG',
      catalog: { streams: [{ ...airbyteStream, supported_sync_modes: ['incremental', 'incremental'] }] },
    },
    true,
  ),
  message(
    'stream with a flat primary key',
    { type: 'CATALOG', catalog: { streams: [{ ...airbyteStream, source_defined_primary_key: ['id'] }] } },
    false,
  ),
  message(
    'stream with a string cursor field',
    { type: 'CATALOG', catalog: { streams: [{ ...airbyteStream, default_cursor_field: 'updated_at' }] } },
    false,
  ),
  message(
    'stream with json_schema true (a valid JSON Schema, but not an object)',
    { type: 'CATALOG', catalog: { streams: [{ ...airbyteStream, json_schema: true }] } },
    false,
  ),

  // DESTINATION_CATALOG
  message(
    'destination catalog',
    {
      type: 'DESTINATION_CATALOG',
      destination_catalog: {
        operations: [
          {
            object_name: 'contacts',
            sync_mode: 'append_dedup',
            json_schema: { type: 'object' },
            matching_keys: [['email'], ['account', 'id']],
          },
          { object_name: 'events', sync_mode: 'append', json_schema: {} },
        ],
      },
    },
    true,
  ),
  message(
    'destination operation with a source sync mode',
    {
      type: 'DESTINATION_CATALOG',
      destination_catalog: { operations: [{ object_name: 'x', sync_mode: 'incremental', json_schema: {} }] },
    },
    false,
  ),
  message(
    'destination catalog without operations',
    { type: 'DESTINATION_CATALOG', destination_catalog: {} },
    false,
  ),

  // ConfiguredAirbyteCatalog
  {
    definition: 'ConfiguredAirbyteCatalog',
    description: 'configured catalog with every field',
    value: {
      streams: [
        {
          stream: airbyteStream,
          sync_mode: 'incremental',
          cursor_field: ['updated_at'],
          destination_sync_mode: 'append_dedup',
          destination_object_name: 'users_v2',
          primary_key: [['id']],
          generation_id: 3,
          minimum_generation_id: 0,
          sync_id: 2 ** 55,
          include_files: false,
        },
      ],
    },
    valid: true,
  },
  {
    definition: 'ConfiguredAirbyteCatalog',
    description: 'configured stream relying on the YAML defaults for the sync modes',
    value: { streams: [{ stream: airbyteStream }] },
    valid: false,
  },
  {
    definition: 'ConfiguredAirbyteCatalog',
    description: 'incremental without cursor_field (required only in prose)',
    value: {
      streams: [{ stream: airbyteStream, sync_mode: 'incremental', destination_sync_mode: 'append' }],
    },
    valid: true,
  },
  {
    definition: 'ConfiguredAirbyteCatalog',
    description: 'fractional generation_id',
    value: {
      streams: [
        {
          stream: airbyteStream,
          sync_mode: 'full_refresh',
          destination_sync_mode: 'overwrite',
          generation_id: 1.5,
        },
      ],
    },
    valid: false,
  },
  {
    definition: 'ConfiguredAirbyteCatalog',
    description: 'configured stream whose stream has no json_schema',
    value: {
      streams: [
        {
          stream: { name: 'x', supported_sync_modes: ['full_refresh'] },
          sync_mode: 'full_refresh',
          destination_sync_mode: 'append',
        },
      ],
    },
    valid: false,
  },
  {
    definition: 'ConfiguredAirbyteCatalog',
    description: 'streams as an object',
    value: { streams: { users: {} } },
    valid: false,
  },
];

/** Labelled strings for `format: uri`, as ajv-formats reads it. */
export const URI_SAMPLES: StringSamples = {
  valid: [
    'https://docs.airbyte.com/integrations/sources/postgres',
    'http://localhost:8000/api/v1?x=1&y=%20#frag',
    'HTTPS://EXAMPLE.COM/Path',
    'urn:isbn:0451450523',
    'mailto:dev@example.com',
    'file:///tmp/spec.json',
    'ftp://user:pa%3Ass@ftp.example.com:21/pub/',
    'https://[::1]:8080/x',
    'https://[2001:db8::192.168.0.1]/',
    'https://[2001:0db8:0000:0000:0000:ff00:0042:8329]/',
    'https://[v1.fe80::a+en1]/',
    'https://example.com/a/../b;params?q=/?#/?',
    'https://example.com:/empty-port',
    "https://example.com/!$&'()*+,;=:@",
    'http://192.168.0.1/',
    'x:y',
    'a+b-c.d:/rooted',
    'https://example.com/#%41',
    'https://u@[::1]:80',
    'x:/',
    'x://',
    // Looser than RFC 3986, as ajv-formats is: leading zeros in an IPv4 octet, an authority after a
    // single slash, and `//` read as a path whose first segment is empty (so `:80a` passes).
    'https://[::ffff:01.2.3.4]/',
    'http:/[::1]/x',
    'http://host:80a/',
    'http://a:b@c:d/',
  ],
  invalid: [
    'docs.airbyte.com/integrations',
    '/relative/path',
    '//example.com/no-scheme',
    'https://example.com/a b',
    'https://example.com/{{path}}',
    'https://exämple.com/',
    'httpſ://example.com/',
    '1http://example.com',
    'https://example.com/%zz',
    'https://example.com/"quoted"',
    'https://example.com/back\\slash',
    'https://example.com/^caret',
    'https://example.com/pipe|',
    'https://[::g]/',
    'https://[1:2:3:4:5:6:7:8:9]/',
    'https://example.com/\n',
    ' https://example.com',
    ':no-scheme',
    'https://[::ffff:256.1.1.1]/',
    'https://[::1',
    'https://example.com/?q=a b',
    'https://example.com/?a[0]=1',
    'https://example.com/?a=%4',
    'https://example.com/#a#b',
    // RFC 3986 allows an empty path after the scheme; ajv-formats does not, and it is the oracle.
    'http:',
    'x:?q',
    'x:#f',
  ],
};

/** Labelled strings for the patterned definitions of well_known_types.yaml. */
export const WELL_KNOWN_SAMPLES: Record<string, StringSamples> = {
  BinaryData: {
    valid: ['', 'YWJj', 'YWI=', 'YQ==', 'SGVsbG8sIHdvcmxkIQ==', '+/+/'],
    invalid: ['YWJ', 'YQ=', 'YQ===', 'YW J', 'YWJj\n', '====', 'YW-_'],
  },
  Date: {
    valid: ['2022-01-23', '2022-01-23 BC', '0001-01-01', '9999-99-99'],
    invalid: [
      '22-01-23',
      '2022-1-23',
      '2022-01-23BC',
      '2022-01-23 AD',
      '12022-01-23',
      '2022-01-23T00:00:00Z',
      '2022-01-23\n',
      '',
    ],
  },
  TimestampWithTimezone: {
    valid: [
      '2022-01-23T01:23:45Z',
      '2022-01-23T01:23:45.678-11:30 BC',
      '2022-01-23T01:23:45+1:00',
      '2022-01-23T01:23:45.1Z',
    ],
    invalid: [
      '2022-01-23T01:23:45',
      '2022-01-23 01:23:45Z',
      '2022-01-23T01:23:45.Z',
      '1642901025',
      '2022-01-23T01:23:45z',
      '',
    ],
  },
  TimestampWithoutTimezone: {
    valid: ['2022-01-23T01:23:45', '2022-01-23T01:23:45.678 BC', '2022-01-23T01:23:45.678'],
    invalid: ['2022-01-23T01:23:45Z', '2022-01-23 01:23:45', '2022-01-23', ''],
  },
  TimeWithTimezone: {
    valid: ['01:23:45Z', '01:23:45.678-11:30', '23:59:59+00:00'],
    invalid: ['01:23:45', '1:23:45Z', '01:23:45 BC', '01:23Z', ''],
  },
  TimeWithoutTimezone: {
    valid: ['01:23:45', '01:23:45.678'],
    invalid: ['01:23:45Z', '01:23', '1:23:45', ''],
  },
  // The YAML's patterns are unanchored: any string holding a digit matches; the YAML wins.
  Number: {
    valid: [
      '0',
      '-1.5',
      '123456789012345678901234567890',
      'Infinity',
      '-Infinity',
      'NaN',
      '1e5',
      'abc1',
      '1.2.3',
    ],
    invalid: ['', 'abc', 'infinity', '-', '.', 'Inf', ' NaN'],
  },
  Integer: {
    valid: ['0', '-17', '98765432109876543210', 'Infinity', '-Infinity', 'NaN', '1.5', 'x9'],
    invalid: ['', 'abc', 'nan', '-', '+Infinity'],
  },
};
