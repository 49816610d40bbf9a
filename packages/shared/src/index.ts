export { EnvError, parseEnv } from './env';
export { createLogger, type Logger, REDACTED_KEYS } from './logger';
