import { isIP } from 'node:net';
import { type ConnectionOptions, checkServerIdentity } from 'node:tls';
import { ConfigError, TransientError } from '@sluice/protocol';
import pg from 'pg';
import { type PostgresSourceConfig, parseConnectionParams, type SslMode } from './config';
import { openTunnel, type Tunnel } from './tunnel';

/**
 * Session settings every connection starts with, so values come out of Postgres in one known
 * text format whatever the server's defaults: the row encoders rely on them (timestamps in UTC
 * with ISO dates, floats that round-trip, hex bytea, money without locale surprises).
 */
export const SESSION_SETTINGS: ReadonlyArray<[string, string]> = [
  ['TimeZone', 'UTC'],
  ['DateStyle', 'ISO, MDY'],
  ['IntervalStyle', 'postgres'],
  ['extra_float_digits', '3'],
  ['bytea_output', 'hex'],
  ['lc_monetary', 'C'],
  ['standard_conforming_strings', 'on'],
  ['client_encoding', 'UTF8'],
  // The snapshot coordinator waits in its transaction while readers copy chunks.
  ['idle_in_transaction_session_timeout', '0'],
];

/** One `-c name=value` for the startup `options` parameter (backslash escapes spaces). */
function optionFlag(name: string, value: string): string {
  return `-c ${name}=${value.replace(/\\/g, '\\\\').replace(/ /g, '\\ ')}`;
}

export interface ConnectOptions {
  /** A walsender connection (`replication=database`) for logical replication commands. */
  replication?: boolean;
  /** Suffix of application_name, to tell the connector's sessions apart in pg_stat_activity. */
  role?: string;
}

type PgSsl = false | ConnectionOptions;

/**
 * Where and how to connect: owns the SSH tunnel (shared by every connection of the process)
 * and turns the config into pg client settings.
 */
export class Endpoint {
  private tunnel: Tunnel | undefined;
  private tunnelOpening: Promise<Tunnel> | undefined;
  private readonly params: Array<[string, string]>;
  /** SSL decision of the first connection in allow/prefer mode, reused by the others. */
  private negotiated: PgSsl | undefined;

  constructor(readonly config: PostgresSourceConfig) {
    this.params = parseConnectionParams(config.connection_params);
  }

  private async target(): Promise<{ host: string; port: number }> {
    const method = this.config.tunnel_method;
    if (method.tunnel_method === 'NO_TUNNEL') return { host: this.config.host, port: this.config.port };
    this.tunnelOpening ??= openTunnel(method, this.config.host, this.config.port);
    this.tunnel = await this.tunnelOpening;
    return { host: this.tunnel.host, port: this.tunnel.port };
  }

  private sslFor(mode: SslMode): PgSsl {
    const host = this.config.host;
    switch (mode.mode) {
      case 'disable':
      case 'allow':
        return false;
      case 'prefer':
      case 'require':
        return { rejectUnauthorized: false };
      case 'verify-ca':
      case 'verify-full': {
        const tls: ConnectionOptions = {
          rejectUnauthorized: true,
          ca: mode.ca_certificate,
          ...(mode.client_certificate ? { cert: mode.client_certificate } : {}),
          ...(mode.client_key ? { key: mode.client_key } : {}),
          ...(mode.client_key_password ? { passphrase: mode.client_key_password } : {}),
        };
        if (mode.mode === 'verify-ca') {
          // The chain is verified; the name in the certificate is not.
          tls.checkServerIdentity = () => undefined;
        } else {
          // Through a tunnel the socket goes to 127.0.0.1: the certificate must name the real host.
          if (!isIP(host)) tls.servername = host;
          tls.checkServerIdentity = (_name, cert) => checkServerIdentity(host, cert);
        }
        return tls;
      }
    }
  }

  private startupOptions(replication: boolean): string {
    const flags = SESSION_SETTINGS.map(([k, v]) => optionFlag(k, v));
    // A walsender's START_REPLICATION runs for the whole stream: no statement timeout there.
    if (this.config.statement_timeout_seconds > 0 && !replication) {
      flags.push(optionFlag('statement_timeout', `${this.config.statement_timeout_seconds}s`));
    }
    let extra = '';
    for (const [k, v] of this.params) {
      if (k === 'application_name') continue;
      if (k === 'options') extra = v;
      else flags.push(optionFlag(k, v));
    }
    return extra ? `${flags.join(' ')} ${extra}` : flags.join(' ');
  }

  private clientConfig(host: string, port: number, ssl: PgSsl, options: ConnectOptions): pg.ClientConfig {
    const app = this.params.find(([k]) => k === 'application_name')?.[1] ?? 'sluice-source-postgres';
    return {
      host,
      port,
      database: this.config.database,
      user: this.config.username,
      password: this.config.password ?? '',
      ssl,
      options: this.startupOptions(options.replication === true),
      application_name: options.role ? `${app} ${options.role}` : app,
      connectionTimeoutMillis: 30_000,
      keepAlive: true,
      ...(options.replication ? { replication: 'database' } : {}),
    } as pg.ClientConfig;
  }

  private async tryConnect(ssl: PgSsl, options: ConnectOptions): Promise<pg.Client> {
    const { host, port } = await this.target();
    const client = new pg.Client(this.clientConfig(host, port, ssl, options));
    // An idle client whose server goes away emits 'error'; the next query reports it instead.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return client;
  }

  /** A connected client with the session settings applied; errors name what went wrong. */
  async connect(options: ConnectOptions = {}): Promise<pg.Client> {
    const mode = this.config.ssl_mode;
    try {
      if (this.negotiated !== undefined) return await this.tryConnect(this.negotiated, options);
      if (mode.mode === 'prefer') {
        try {
          const client = await this.tryConnect(this.sslFor(mode), options);
          this.negotiated = this.sslFor(mode);
          return client;
        } catch (err) {
          if (!/does not support SSL/i.test((err as Error).message)) throw err;
          this.negotiated = false;
          return await this.tryConnect(false, options);
        }
      }
      if (mode.mode === 'allow') {
        try {
          const client = await this.tryConnect(false, options);
          this.negotiated = false;
          return client;
        } catch (err) {
          // pg_hba.conf rejects unencrypted sessions with "... no encryption".
          if (!/no encryption/i.test((err as Error).message)) throw err;
          this.negotiated = { rejectUnauthorized: false };
          return await this.tryConnect(this.negotiated, options);
        }
      }
      return await this.tryConnect(this.sslFor(mode), options);
    } catch (err) {
      throw describeConnectError(err, this.config);
    }
  }

  async close(): Promise<void> {
    const tunnel = this.tunnel;
    this.tunnel = undefined;
    this.tunnelOpening = undefined;
    if (tunnel) await tunnel.close();
  }
}

/** Connection failures as config errors (the user can fix them) or transient ones. */
export function describeConnectError(err: unknown, config: PostgresSourceConfig): Error {
  if (err instanceof ConfigError || err instanceof TransientError) return err;
  const e = err as Error & { code?: string };
  const where = `${config.host}:${config.port}/${config.database}`;
  const message = e.message || String(err);
  switch (e.code) {
    case '28P01':
    case '28000':
      return new ConfigError(`could not connect to ${where} as "${config.username}": ${message}`, {
        cause: err,
      });
    case '3D000':
      return new ConfigError(
        `database "${config.database}" does not exist on ${config.host}:${config.port}`,
        {
          cause: err,
        },
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConfigError(`host "${config.host}" could not be resolved`, { cause: err });
    case 'ECONNREFUSED':
      return new ConfigError(
        `connection to ${config.host}:${config.port} was refused: is Postgres listening there?`,
        {
          cause: err,
        },
      );
    case '57P03':
    case '53300':
      return new TransientError(`could not connect to ${where}: ${message}`, { cause: err });
  }
  if (/SSL|certificate|self.signed|altnames|unable to verify/i.test(message)) {
    return new ConfigError(`SSL (${config.ssl_mode.mode}) connection to ${where} failed: ${message}`, {
      cause: err,
    });
  }
  if (/timeout/i.test(message)) {
    return new TransientError(`could not connect to ${where}: ${message}`, { cause: err });
  }
  return new ConfigError(`could not connect to ${where}: ${message}`, { cause: err });
}
