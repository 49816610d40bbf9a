export { requireObjectRole, requireWorkspaceRole, type WorkspaceObject } from './access';
export {
  type Caller,
  type DataplaneCaller,
  resolveCaller,
  SESSION_COOKIE,
  type UserCaller,
} from './auth/caller';
export { hashPassword, verifyPassword } from './auth/passwords';
export { clearedSessionCookie, SESSION_TTL_MS, sessionCookie } from './auth/session';
export { type IssuedToken, issueToken, TOKEN_PREFIX, type TokenKind, tokenKind } from './auth/tokens';
export { type ApiDeps, type Context, createContextFactory, type RequestInfo } from './context';
export { AdminEnv, loadAdminEnv } from './env';
export { ApiError, type ApiErrorCode, type ApiErrorDetails } from './errors';
export type { ConnectionOrchestrator } from './orchestrator';
export { type AppRouter, appRouter } from './root';
export * from './runner';
export * from './secrets';
export { type ApiServer, createTrpcFetchHandler, startApiServer, TRPC_ENDPOINT } from './server';
export { type EnsureAdminResult, ensureAdminUser } from './services/auth';
export {
  type AppliedSchema,
  applyDiscoveredSchema,
  configHash,
  detectSchemaChanges,
  SCHEMA_CONNECTION_INCLUDE,
  type SchemaChangeOutcome,
  type SchemaConnection,
  storeDiscoveredCatalog,
} from './services/catalogs';
export type { CheckResult, DiscoverResult } from './services/connector-jobs';
export { AttemptLogWriter } from './services/logs';
export { type Access, createCallerFactory, type Meta } from './trpc';
export {
  buildConfiguredCatalog,
  ConnectionCatalog,
  ConnectionStream,
  carryOverCatalog,
  defaultStreamConfig,
  diffCatalogs,
  FieldChange,
  SchemaChange,
  StreamChange,
  StreamDescriptor,
  validateConnectionCatalog,
} from './validation/catalog';
export { validateConfig } from './validation/config';
export {
  type CronSchedule,
  isValidTimeZone,
  nextCronRuns,
  toCronParserExpression,
  validateCronSchedule,
} from './validation/cron';
