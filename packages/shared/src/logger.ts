import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Keys whose values are never logged, wherever they appear in a log object. Connector
 * configs and request contexts are logged by reference in many places; redacting by key
 * keeps a secret out of the log even when a caller forgets to strip it.
 */
export const REDACTED_KEYS = [
  'password',
  'secret',
  'token',
  'apiKey',
  'api_key',
  'authorization',
  'cookie',
  'secretKey',
  'connectionConfiguration',
  'config',
  'databaseUrl',
  'DATABASE_URL',
  'SLUICE_SECRET_KEY',
];

const redactPaths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export function createLogger(
  name: string,
  options: LoggerOptions = {},
  destination?: DestinationStream,
): Logger {
  const opts: LoggerOptions = {
    name,
    level: process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths, censor: '**********' },
    ...options,
  };
  return destination ? pino(opts, destination) : pino(opts);
}
