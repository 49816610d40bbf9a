import { ConfigError, ConnectorError, type ConnectorLogger, TransientError } from '@sluice/protocol';
import pg from 'pg';
import type { PostgresConfig } from './spec';

export type Client = pg.Client;

/** Connection properties understood from `jdbc_url_params` (JDBC names and libpq names). */
interface Params {
  applicationName?: string;
  connectTimeoutMs?: number;
  options?: string;
  unknown: string[];
}

export function parseConnectionParams(text: string | undefined): Params {
  const out: Params = { unknown: [] };
  if (!text) return out;
  for (const part of text.split('&')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(`jdbc_url_params: "${part}" is not key=value`);
    const key = decodeURIComponent(part.slice(0, eq).trim());
    const value = decodeURIComponent(part.slice(eq + 1).trim());
    switch (key.toLowerCase()) {
      case 'applicationname':
      case 'application_name':
        out.applicationName = value;
        break;
      case 'connecttimeout':
      case 'connect_timeout': {
        const seconds = Number(value);
        if (!Number.isFinite(seconds) || seconds < 0)
          throw new ConfigError(`jdbc_url_params: ${key} must be a number of seconds, got "${value}"`);
        out.connectTimeoutMs = seconds * 1000;
        break;
      }
      case 'options':
        out.options = value;
        break;
      case 'currentschema':
      case 'sockettimeout':
        // The schema comes from the config and stream namespaces; COPY runs as long as it needs.
        break;
      default:
        out.unknown.push(key);
    }
  }
  return out;
}

type SslOption = pg.ClientConfig['ssl'];

/** The `ssl` options to try in order (libpq's allow/prefer fall back to the other one). */
export function sslAttempts(config: PostgresConfig): SslOption[] {
  const m = config.ssl_mode;
  switch (m.mode) {
    case 'disable':
      return [false];
    case 'allow':
      return [false, { rejectUnauthorized: false }];
    case 'prefer':
      return [{ rejectUnauthorized: false }, false];
    case 'require':
      return [{ rejectUnauthorized: false }];
    case 'verify-ca':
      // The chain is checked, the host name is not (libpq's verify-ca).
      return [{ ca: m.ca_certificate, rejectUnauthorized: true, checkServerIdentity: () => undefined }];
    case 'verify-full':
      return [
        {
          ca: m.ca_certificate,
          rejectUnauthorized: true,
          ...(m.client_certificate ? { cert: m.client_certificate } : {}),
          ...(m.client_key ? { key: m.client_key } : {}),
          ...(m.client_key_password ? { passphrase: m.client_key_password } : {}),
        },
      ];
  }
}

/** Connection factory: SSL negotiation, session settings, clear errors. */
export class Connector {
  private readonly params: Params;
  private ssl: SslOption[];

  constructor(
    private readonly config: PostgresConfig,
    logger?: ConnectorLogger,
  ) {
    const tunnel = config.tunnel_method?.tunnel_method;
    if (tunnel && tunnel !== 'NO_TUNNEL') {
      throw new ConfigError(
        `tunnel_method ${tunnel} is not supported by this destination yet; connect directly (NO_TUNNEL)`,
      );
    }
    this.params = parseConnectionParams(config.jdbc_url_params);
    if (this.params.unknown.length > 0) {
      logger?.warn(`jdbc_url_params: ignoring unsupported properties ${this.params.unknown.join(', ')}`);
    }
    this.ssl = sslAttempts(config);
  }

  async connect(): Promise<Client> {
    let lastError: unknown;
    for (const [i, ssl] of this.ssl.entries()) {
      const client = new pg.Client({
        host: this.config.host,
        port: this.config.port,
        database: this.config.database,
        user: this.config.username,
        password: this.config.password,
        ssl,
        application_name: this.params.applicationName ?? 'sluice-destination-postgres',
        connectionTimeoutMillis: this.params.connectTimeoutMs ?? 30_000,
        ...(this.params.options ? { options: this.params.options } : {}),
        keepAlive: true,
      });
      // An idle connection can die (server restart); its error surfaces on the next query.
      client.on('error', () => {});
      try {
        await client.connect();
        // Values without an offset are UTC; output formats the encoders expect.
        await client.query(
          "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3; SET statement_timeout = 0",
        );
        // Once one SSL choice works, later connections use it first.
        if (i > 0) this.ssl = [ssl, ...this.ssl.filter((s) => s !== ssl)];
        return client;
      } catch (err) {
        lastError = err;
        await client.end().catch(() => {});
        if (!isSslNegotiationError(err) || i === this.ssl.length - 1) break;
      }
    }
    throw describeConnectError(lastError, this.config);
  }
}

function isSslNegotiationError(err: unknown): boolean {
  const msg = (err as Error)?.message ?? '';
  const code = (err as { code?: string })?.code;
  return (
    /does not support SSL|SSL off|no pg_hba.conf entry .* (SSL off|no encryption)|ECONNRESET|EPROTO/i.test(
      msg,
    ) || code === '28000'
  );
}

/** A user-facing error for a failed connection; never includes the password. */
export function describeConnectError(err: unknown, config: PostgresConfig): ConnectorError {
  const e = err as { message?: string; code?: string };
  const where = `${config.username}@${config.host}:${config.port}/${config.database}`;
  const msg = e?.message ?? String(err);
  switch (e?.code) {
    case '28P01':
    case '28000':
      return new ConfigError(`could not log in to Postgres as ${where}: ${msg}`, { cause: err });
    case '3D000':
      return new ConfigError(
        `database "${config.database}" does not exist on ${config.host}:${config.port}`,
        {
          cause: err,
        },
      );
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return new TransientError(`could not reach Postgres at ${config.host}:${config.port}: ${msg}`, {
        cause: err,
      });
    default:
      return new ConnectorError(`could not connect to Postgres as ${where}: ${msg}`, { cause: err });
  }
}
