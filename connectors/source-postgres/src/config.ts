import { ConfigError } from '@sluice/protocol';
import { z } from 'zod';

// The config as the connector uses it. The SDK has already validated the raw config against the
// spec (and filled defaults); this gives it types and checks what JSON Schema cannot say.

const SslCertificates = z.object({
  ca_certificate: z.string().min(1, 'needs the CA certificate'),
  client_certificate: z.string().optional(),
  client_key: z.string().optional(),
  client_key_password: z.string().optional(),
});

export const SslMode = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('disable') }),
  z.object({ mode: z.literal('allow') }),
  z.object({ mode: z.literal('prefer') }),
  z.object({ mode: z.literal('require') }),
  SslCertificates.extend({ mode: z.literal('verify-ca') }),
  SslCertificates.extend({ mode: z.literal('verify-full') }),
]);
export type SslMode = z.infer<typeof SslMode>;

export const TunnelMethod = z.discriminatedUnion('tunnel_method', [
  z.object({ tunnel_method: z.literal('NO_TUNNEL') }),
  z.object({
    tunnel_method: z.literal('SSH_KEY_AUTH'),
    tunnel_host: z.string().min(1),
    tunnel_port: z.number().int().default(22),
    tunnel_user: z.string().min(1),
    ssh_key: z.string().min(1),
  }),
  z.object({
    tunnel_method: z.literal('SSH_PASSWORD_AUTH'),
    tunnel_host: z.string().min(1),
    tunnel_port: z.number().int().default(22),
    tunnel_user: z.string().min(1),
    tunnel_user_password: z.string(),
  }),
]);
export type TunnelMethod = z.infer<typeof TunnelMethod>;

export const CdcMethod = z.object({
  method: z.literal('CDC'),
  plugin: z.literal('pgoutput').default('pgoutput'),
  replication_slot: z.string().min(1),
  publication: z.string().min(1),
  initial_waiting_seconds: z.number().int().min(1).default(300),
  lsn_commit_behaviour: z
    .enum(['While reading Data', 'After loading Data in the destination'])
    .default('After loading Data in the destination'),
  heartbeat_action_query: z.string().default(''),
  invalid_cdc_cursor_position_behavior: z.enum(['Fail sync', 'Re-sync data']).default('Fail sync'),
});
export type CdcMethod = z.infer<typeof CdcMethod>;

export const ReplicationMethod = z.discriminatedUnion('method', [
  z.object({ method: z.literal('Standard') }),
  CdcMethod,
]);
export type ReplicationMethod = z.infer<typeof ReplicationMethod>;

export const PostgresSourceConfig = z.object({
  host: z.string().min(1),
  port: z.number().int().default(5432),
  database: z.string().min(1),
  schemas: z.array(z.string()).default(['public']),
  username: z.string().min(1),
  password: z.string().optional(),
  connection_params: z.string().optional(),
  ssl_mode: SslMode.default({ mode: 'prefer' }),
  replication_method: ReplicationMethod.default({ method: 'Standard' }),
  tunnel_method: TunnelMethod.default({ tunnel_method: 'NO_TUNNEL' }),
  statement_timeout_seconds: z.number().int().min(0).default(0),
  chunk_size_rows: z.number().int().min(1).default(100_000),
  parallel_readers: z.number().int().min(0).max(32).default(0),
});
export type PostgresSourceConfig = z.infer<typeof PostgresSourceConfig>;

/** `key=value&key=value` into pairs; keys are setting names, so only [A-Za-z0-9_.] is accepted. */
export function parseConnectionParams(raw: string | undefined): Array<[string, string]> {
  if (!raw || raw.trim() === '') return [];
  const out: Array<[string, string]> = [];
  for (const part of raw.split('&')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) {
      throw new ConfigError(`connection_params: "${part}" is not a key=value pair`);
    }
    const key = decodeURIComponent(part.slice(0, eq).trim());
    const value = decodeURIComponent(part.slice(eq + 1));
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(key)) {
      throw new ConfigError(`connection_params: "${key}" is not a valid setting name`);
    }
    out.push([key, value]);
  }
  return out;
}

export function parseConfig(raw: Record<string, unknown>): PostgresSourceConfig {
  const parsed = PostgresSourceConfig.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`Config validation error: ${problems.join('; ')}`);
  }
  parseConnectionParams(parsed.data.connection_params);
  return parsed.data;
}

export const isCdc = (
  config: PostgresSourceConfig,
): config is PostgresSourceConfig & {
  replication_method: CdcMethod;
} => config.replication_method.method === 'CDC';
