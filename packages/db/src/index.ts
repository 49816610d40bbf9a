export { BootError, type BootloaderOptions, type BootReport, runBootloader } from './bootloader';
export { type CreateDbOptions, createDb, type Db, type DbOrTx, type Tx } from './client';
export type { ConnectorProblem, LocalConnector, SeedOptions, SeedReport } from './connectors';
export {
  ConnectorMetadata,
  ConnectorSpecification,
  canonicalJson,
  discoverConnectors,
  ResourceRequirements,
  runSpec,
  SpecError,
  seedConnectorDefinitions,
} from './connectors';
export { decryptSecret, encryptSecret, hashToken, isEncryptedSecret, SecretDecryptionError } from './crypto';
export { ensureDatabase, redactUrl, withDatabase } from './database';
export {
  connectorProcessEnv,
  DbEnv,
  DEFAULT_DATABASE_URL,
  databaseUrlFromEnv,
  decodeSecretKey,
  loadDbEnv,
} from './env';
export * from './generated/prisma/client';
export type { MigrateOptions, MigrateResult, MigrationFile } from './migrate';
export {
  MIGRATION_ADVISORY_LOCK,
  MigrationError,
  migrate,
  migrationChecksum,
  readMigrations,
} from './migrate';
export {
  type ConnectionStateInput,
  type ProtocolStateMessage,
  persistConnectionState,
  readConnectionState,
  resetConnectionState,
  StaleStateError,
  type StreamStateInput,
  withTransaction,
} from './state';
export { type CreateTestDatabaseOptions, createTestDatabase, type TestDatabase } from './testing';
