import type { ConnectorSpecification } from '@sluice/protocol';

// The shape of Airbyte's source-postgres spec (host, port, database, schemas, username, password,
// ssl_mode, replication_method, tunnel_method), so a config written for one works on the other.
// `connection_params` stands in for `jdbc_url_params`; the advanced Sluice options come last.

const certificateFields = {
  ca_certificate: {
    type: 'string',
    title: 'CA certificate',
    description: 'The PEM certificate of the authority that signed the server certificate.',
    airbyte_secret: true,
    multiline: true,
    order: 1,
  },
  client_certificate: {
    type: 'string',
    title: 'Client certificate',
    description: 'PEM client certificate, for servers that authenticate clients by certificate.',
    airbyte_secret: true,
    multiline: true,
    always_show: true,
    order: 2,
  },
  client_key: {
    type: 'string',
    title: 'Client key',
    description: 'PEM private key of the client certificate.',
    airbyte_secret: true,
    multiline: true,
    always_show: true,
    order: 3,
  },
  client_key_password: {
    type: 'string',
    title: 'Client key password',
    description: 'Password of the client key, when it is encrypted.',
    airbyte_secret: true,
    order: 4,
  },
};

const sslMode = (mode: string, title: string, description: string) => ({
  title: mode,
  description,
  type: 'object',
  additionalProperties: true,
  required: ['mode'],
  properties: { mode: { type: 'string', const: mode, order: 0, title } },
});

const sslVerifyMode = (mode: string, description: string) => ({
  title: mode,
  description,
  type: 'object',
  additionalProperties: true,
  required: ['mode', 'ca_certificate'],
  properties: { mode: { type: 'string', const: mode, order: 0 }, ...certificateFields },
});

const tunnelCommon = {
  tunnel_host: {
    title: 'SSH Tunnel Jump Server Host',
    description: 'Hostname of the jump server host that allows inbound ssh tunnel.',
    type: 'string',
    order: 1,
  },
  tunnel_port: {
    title: 'SSH Connection Port',
    description: 'Port on the proxy/jump server that accepts inbound ssh connections.',
    type: 'integer',
    minimum: 0,
    maximum: 65536,
    default: 22,
    examples: ['22'],
    order: 2,
  },
  tunnel_user: {
    title: 'SSH Login Username',
    description: 'OS-level username for logging into the jump server host.',
    type: 'string',
    order: 3,
  },
};

export const spec: ConnectorSpecification = {
  documentationUrl: 'https://docs.airbyte.com/integrations/sources/postgres',
  supportsNormalization: false,
  supportsDBT: false,
  supported_destination_sync_modes: [],
  connectionSpecification: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Postgres Source Spec',
    type: 'object',
    required: ['host', 'port', 'database', 'username'],
    additionalProperties: true,
    properties: {
      host: {
        title: 'Host',
        description: 'Hostname of the database.',
        type: 'string',
        order: 0,
        group: 'db',
      },
      port: {
        title: 'Port',
        description: 'Port of the database.',
        type: 'integer',
        minimum: 0,
        maximum: 65536,
        default: 5432,
        examples: ['5432'],
        order: 1,
        group: 'db',
      },
      database: {
        title: 'Database Name',
        description: 'Name of the database.',
        type: 'string',
        order: 2,
        group: 'db',
      },
      schemas: {
        title: 'Schemas',
        description:
          'The list of schemas (case sensitive) to sync from. Defaults to public. An empty list discovers every schema the user can read.',
        type: 'array',
        items: { type: 'string' },
        minItems: 0,
        uniqueItems: true,
        default: ['public'],
        order: 3,
        group: 'db',
      },
      username: {
        title: 'Username',
        description: 'Username to access the database.',
        type: 'string',
        order: 4,
        group: 'auth',
      },
      password: {
        title: 'Password',
        description: 'Password associated with the username.',
        type: 'string',
        airbyte_secret: true,
        order: 5,
        group: 'auth',
        always_show: true,
      },
      connection_params: {
        title: 'Connection Parameters (Advanced)',
        description:
          "Additional connection parameters as 'key=value' pairs separated by '&' (e.g. 'application_name=sluice&search_path=app'). Each becomes a session setting; 'application_name' and 'options' are passed at connection start.",
        type: 'string',
        order: 6,
        group: 'advanced',
        pattern_descriptor: 'key1=value1&key2=value2',
      },
      ssl_mode: {
        title: 'SSL Modes',
        description:
          'How the connection is encrypted and the server verified: disable, allow (plain first, TLS if the server insists), prefer (TLS if the server offers it), require (TLS, no verification), verify-ca (TLS, the server certificate is signed by the given CA), verify-full (verify-ca and the certificate names the host).',
        type: 'object',
        order: 8,
        group: 'security',
        default: { mode: 'prefer' },
        oneOf: [
          sslMode(
            'disable',
            'disable',
            'Disables encryption of communication between Sluice and the source database.',
          ),
          sslMode('allow', 'allow', 'Enables encryption only when the source database requires it.'),
          sslMode(
            'prefer',
            'prefer',
            'Encrypts when the source database supports it, otherwise connects in plain.',
          ),
          sslMode(
            'require',
            'require',
            'Always encrypts; fails when the source database does not support encryption.',
          ),
          sslVerifyMode(
            'verify-ca',
            'Always encrypts and verifies that the server certificate was signed by the given CA.',
          ),
          sslVerifyMode(
            'verify-full',
            'Always encrypts, verifies the certificate against the given CA and that it names the host.',
          ),
        ],
      },
      replication_method: {
        type: 'object',
        title: 'Update Method',
        description: 'How incremental streams find new and changed rows.',
        order: 9,
        group: 'advanced',
        default: { method: 'Standard' },
        display_type: 'radio',
        oneOf: [
          {
            title: 'Scan Changes with User Defined Cursor',
            description:
              "Incremental streams read rows whose cursor column (e.g. 'updated_at') is at or after the last value read. Deletes are not seen.",
            type: 'object',
            additionalProperties: true,
            required: ['method'],
            properties: { method: { type: 'string', const: 'Standard', order: 0 } },
          },
          {
            title: 'Read Changes using Write-Ahead Log (CDC)',
            description:
              'Logical replication (pgoutput): an initial snapshot, then inserts, updates and deletes from the WAL. Needs wal_level=logical and a user with the REPLICATION attribute.',
            type: 'object',
            additionalProperties: true,
            required: ['method', 'replication_slot', 'publication'],
            properties: {
              method: { type: 'string', const: 'CDC', order: 1 },
              plugin: {
                type: 'string',
                title: 'Plugin',
                description: 'The logical decoding plugin; pgoutput is built into Postgres 10 and later.',
                enum: ['pgoutput'],
                default: 'pgoutput',
                order: 2,
              },
              replication_slot: {
                type: 'string',
                title: 'Replication Slot',
                description:
                  'A logical replication slot used by this connection only. Created (with a consistent snapshot for the initial load) when it does not exist yet and the connection has no saved state.',
                order: 3,
              },
              publication: {
                type: 'string',
                title: 'Publication',
                description:
                  'The publication the slot decodes. Created for the selected tables when it does not exist.',
                order: 4,
              },
              initial_waiting_seconds: {
                type: 'integer',
                title: 'Initial Waiting Time in Seconds (Advanced)',
                description:
                  'How long a sync waits for changes when the server reports none; the sync ends earlier once it has caught up with the WAL position current at its start.',
                default: 300,
                minimum: 1,
                maximum: 2400,
                order: 5,
              },
              queue_size: {
                type: 'integer',
                title: 'Size of the queue (Advanced)',
                description: 'Accepted for compatibility; changes are streamed without a queue.',
                default: 10000,
                minimum: 1000,
                maximum: 10000,
                order: 6,
              },
              lsn_commit_behaviour: {
                type: 'string',
                title: 'LSN commit behaviour',
                description:
                  'When the WAL position is acknowledged to the server (which lets it discard WAL). After loading: at the start of the next sync, the position of the last state the destination committed, so nothing is lost if a sync fails.',
                enum: ['While reading Data', 'After loading Data in the destination'],
                default: 'After loading Data in the destination',
                order: 7,
              },
              heartbeat_action_query: {
                type: 'string',
                title: 'Heartbeat query (Advanced)',
                description:
                  'A statement run before streaming (e.g. an insert into a heartbeat table in the publication) so the slot advances when the synced tables are idle.',
                default: '',
                order: 8,
              },
              invalid_cdc_cursor_position_behavior: {
                type: 'string',
                title: 'Invalid CDC position behavior (Advanced)',
                description:
                  'What to do when the saved position is no longer available in the slot: fail the sync (default), or re-read every CDC stream from a new snapshot.',
                enum: ['Fail sync', 'Re-sync data'],
                default: 'Fail sync',
                order: 9,
              },
              initial_load_timeout_hours: {
                type: 'integer',
                title: 'Initial Load Timeout in Hours (Advanced)',
                description:
                  'Accepted for compatibility; the initial load is checkpointed per chunk instead.',
                default: 8,
                minimum: 4,
                maximum: 24,
                order: 10,
              },
            },
          },
        ],
      },
      tunnel_method: {
        type: 'object',
        title: 'SSH Tunnel Method',
        description:
          'Whether to initiate an SSH tunnel before connecting to the database, and if so, which kind of authentication to use.',
        order: 10,
        group: 'security',
        default: { tunnel_method: 'NO_TUNNEL' },
        oneOf: [
          {
            title: 'No Tunnel',
            type: 'object',
            additionalProperties: true,
            required: ['tunnel_method'],
            properties: {
              tunnel_method: {
                description: 'No ssh tunnel needed to connect to database',
                type: 'string',
                const: 'NO_TUNNEL',
                order: 0,
              },
            },
          },
          {
            title: 'SSH Key Authentication',
            type: 'object',
            additionalProperties: true,
            required: ['tunnel_method', 'tunnel_host', 'tunnel_port', 'tunnel_user', 'ssh_key'],
            properties: {
              tunnel_method: {
                description: 'Connect through a jump server tunnel host using username and ssh key',
                type: 'string',
                const: 'SSH_KEY_AUTH',
                order: 0,
              },
              ...tunnelCommon,
              ssh_key: {
                title: 'SSH Private Key',
                description:
                  'OS-level user account ssh key credentials in RSA PEM or OpenSSH format for logging into the jump server host',
                type: 'string',
                airbyte_secret: true,
                multiline: true,
                order: 4,
              },
            },
          },
          {
            title: 'Password Authentication',
            type: 'object',
            additionalProperties: true,
            required: ['tunnel_method', 'tunnel_host', 'tunnel_port', 'tunnel_user', 'tunnel_user_password'],
            properties: {
              tunnel_method: {
                description:
                  'Connect through a jump server tunnel host using username and password authentication',
                type: 'string',
                const: 'SSH_PASSWORD_AUTH',
                order: 0,
              },
              ...tunnelCommon,
              tunnel_user_password: {
                title: 'Password',
                description: 'OS-level password for logging into the jump server host',
                type: 'string',
                airbyte_secret: true,
                order: 4,
              },
            },
          },
        ],
      },
      statement_timeout_seconds: {
        title: 'Statement Timeout in Seconds (Advanced)',
        description:
          'Cancels any statement running longer than this (0: no limit). Each chunk of a snapshot is one statement.',
        type: 'integer',
        minimum: 0,
        default: 0,
        order: 11,
        group: 'advanced',
      },
      chunk_size_rows: {
        title: 'Rows per Chunk (Advanced)',
        description:
          'Rows per snapshot chunk, and records between checkpoints of incremental and CDC reads. A state is emitted after each chunk, so a failed read resumes at the last committed chunk.',
        type: 'integer',
        minimum: 1,
        default: 100000,
        order: 12,
        group: 'advanced',
      },
      parallel_readers: {
        title: 'Parallel Chunk Readers (Advanced)',
        description:
          'Connections reading snapshot chunks at once (each a separate session sharing one consistent snapshot). 0 chooses: one per socket in socket mode, 2 otherwise.',
        type: 'integer',
        minimum: 0,
        maximum: 32,
        default: 0,
        order: 13,
        group: 'advanced',
      },
    },
    groups: [
      { id: 'db' },
      { id: 'auth' },
      { id: 'security', title: 'Security' },
      { id: 'advanced', title: 'Advanced' },
    ],
  },
};
