import type { ConnectorSpecification } from '@sluice/protocol';
import { z } from 'zod';

/** Airbyte's destination-postgres options, so an Airbyte config works here unchanged. */
export const SslMode = z.discriminatedUnion('mode', [
  z.looseObject({ mode: z.literal('disable') }),
  z.looseObject({ mode: z.literal('allow') }),
  z.looseObject({ mode: z.literal('prefer') }),
  z.looseObject({ mode: z.literal('require') }),
  z.looseObject({
    mode: z.literal('verify-ca'),
    ca_certificate: z.string().min(1),
    client_key_password: z.string().optional(),
  }),
  z.looseObject({
    mode: z.literal('verify-full'),
    ca_certificate: z.string().min(1),
    client_certificate: z.string().optional(),
    client_key: z.string().optional(),
    client_key_password: z.string().optional(),
  }),
]);
export type SslMode = z.infer<typeof SslMode>;

export const TunnelMethod = z.looseObject({
  tunnel_method: z.enum(['NO_TUNNEL', 'SSH_KEY_AUTH', 'SSH_PASSWORD_AUTH']),
});
export type TunnelMethod = z.infer<typeof TunnelMethod>;

export const PostgresConfig = z.looseObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(5432),
  database: z.string().min(1),
  schema: z.string().min(1).default('public'),
  username: z.string().min(1),
  password: z.string().optional(),
  ssl: z.boolean().optional(),
  ssl_mode: SslMode.default({ mode: 'prefer' }),
  jdbc_url_params: z.string().optional(),
  raw_data_schema: z.string().min(1).optional(),
  drop_cascade: z.boolean().default(false),
  tunnel_method: TunnelMethod.optional(),
});
export type PostgresConfig = z.infer<typeof PostgresConfig>;

/** Where staging tables live: the config's `raw_data_schema`, Airbyte's default otherwise. */
export const internalSchemaOf = (c: PostgresConfig): string => c.raw_data_schema ?? 'airbyte_internal';

const sslCertificate = (title: string, order: number, secret = true) => ({
  type: 'string',
  title,
  airbyte_secret: secret,
  multiline: true,
  order,
});

export const spec: ConnectorSpecification = {
  documentationUrl: 'https://docs.airbyte.com/integrations/destinations/postgres',
  supportsIncremental: true,
  supported_destination_sync_modes: ['overwrite', 'append', 'append_dedup'],
  connectionSpecification: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Postgres Destination Spec',
    type: 'object',
    required: ['host', 'port', 'username', 'database', 'schema'],
    additionalProperties: true,
    properties: {
      host: { title: 'Host', description: 'Hostname of the database.', type: 'string', order: 0 },
      port: {
        title: 'Port',
        description: 'Port of the database.',
        type: 'integer',
        minimum: 0,
        maximum: 65536,
        default: 5432,
        examples: ['5432'],
        order: 1,
      },
      database: { title: 'DB Name', description: 'Name of the database.', type: 'string', order: 2 },
      schema: {
        title: 'Default Schema',
        description:
          'The default schema tables are written to if the source does not specify a namespace. Created if missing.',
        type: 'string',
        examples: ['public'],
        default: 'public',
        order: 3,
      },
      username: {
        title: 'User',
        description: 'Username to use to access the database.',
        type: 'string',
        order: 4,
      },
      password: {
        title: 'Password',
        description: 'Password associated with the username.',
        type: 'string',
        airbyte_secret: true,
        order: 5,
      },
      ssl: {
        title: 'SSL Connection',
        description: 'Deprecated: use ssl_mode. When true and ssl_mode is absent, ssl_mode is "require".',
        type: 'boolean',
        default: false,
        order: 6,
      },
      ssl_mode: {
        title: 'SSL modes',
        description:
          'How the connection is encrypted: disable, allow, prefer (default), require, verify-ca or verify-full, as libpq defines them.',
        type: 'object',
        order: 7,
        oneOf: [
          {
            title: 'disable',
            additionalProperties: true,
            required: ['mode'],
            properties: { mode: { type: 'string', const: 'disable', order: 0 } },
          },
          {
            title: 'allow',
            additionalProperties: true,
            required: ['mode'],
            properties: { mode: { type: 'string', const: 'allow', order: 0 } },
          },
          {
            title: 'prefer',
            additionalProperties: true,
            required: ['mode'],
            properties: { mode: { type: 'string', const: 'prefer', order: 0 } },
          },
          {
            title: 'require',
            additionalProperties: true,
            required: ['mode'],
            properties: { mode: { type: 'string', const: 'require', order: 0 } },
          },
          {
            title: 'verify-ca',
            additionalProperties: true,
            required: ['mode', 'ca_certificate'],
            properties: {
              mode: { type: 'string', const: 'verify-ca', order: 0 },
              ca_certificate: sslCertificate('CA certificate', 1),
              client_key_password: {
                type: 'string',
                title: 'Client key password',
                description: 'Password for the client key; a random one is never generated.',
                airbyte_secret: true,
                order: 4,
              },
            },
          },
          {
            title: 'verify-full',
            additionalProperties: true,
            required: ['mode', 'ca_certificate'],
            properties: {
              mode: { type: 'string', const: 'verify-full', order: 0 },
              ca_certificate: sslCertificate('CA certificate', 1),
              client_certificate: sslCertificate('Client certificate', 2, false),
              client_key: sslCertificate('Client key', 3),
              client_key_password: {
                type: 'string',
                title: 'Client key password',
                airbyte_secret: true,
                order: 4,
              },
            },
          },
        ],
      },
      jdbc_url_params: {
        title: 'Connection parameters',
        description:
          'Extra connection properties as key=value pairs joined by "&" (JDBC style, as on Airbyte). Understood: ApplicationName, connectTimeout, socketTimeout, options, currentSchema is ignored; others are reported and ignored.',
        type: 'string',
        order: 8,
      },
      raw_data_schema: {
        title: 'Internal schema',
        description: 'Schema for staging tables (overwrite swaps). Defaults to airbyte_internal.',
        type: 'string',
        order: 9,
      },
      drop_cascade: {
        title: 'Drop tables with CASCADE',
        description:
          'When an overwrite replaces a table that views depend on, drop the old table with CASCADE (dropping those views). Without it such a sync fails and leaves the old table in place.',
        type: 'boolean',
        default: false,
        order: 10,
      },
      tunnel_method: {
        type: 'object',
        title: 'SSH Tunnel Method',
        description: 'Whether to reach the database through an SSH tunnel. Only "No Tunnel" is supported.',
        order: 11,
        oneOf: [
          {
            title: 'No Tunnel',
            required: ['tunnel_method'],
            properties: {
              tunnel_method: { type: 'string', const: 'NO_TUNNEL', order: 0 },
            },
          },
          {
            title: 'SSH Key Authentication',
            required: ['tunnel_method', 'tunnel_host', 'tunnel_port', 'tunnel_user', 'ssh_key'],
            properties: {
              tunnel_method: { type: 'string', const: 'SSH_KEY_AUTH', order: 0 },
              tunnel_host: { type: 'string', title: 'SSH Tunnel Jump Server Host', order: 1 },
              tunnel_port: { type: 'integer', minimum: 0, maximum: 65536, default: 22, order: 2 },
              tunnel_user: { type: 'string', title: 'SSH Login Username', order: 3 },
              ssh_key: {
                type: 'string',
                title: 'SSH Private Key',
                airbyte_secret: true,
                multiline: true,
                order: 4,
              },
            },
          },
          {
            title: 'Password Authentication',
            required: ['tunnel_method', 'tunnel_host', 'tunnel_port', 'tunnel_user', 'tunnel_user_password'],
            properties: {
              tunnel_method: { type: 'string', const: 'SSH_PASSWORD_AUTH', order: 0 },
              tunnel_host: { type: 'string', title: 'SSH Tunnel Jump Server Host', order: 1 },
              tunnel_port: { type: 'integer', minimum: 0, maximum: 65536, default: 22, order: 2 },
              tunnel_user: { type: 'string', title: 'SSH Login Username', order: 3 },
              tunnel_user_password: { type: 'string', title: 'Password', airbyte_secret: true, order: 4 },
            },
          },
        ],
      },
    },
  },
};
