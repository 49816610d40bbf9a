import { PrismaPg } from '@prisma/adapter-pg';
import { createLogger } from '@sluice/shared';
import { type Prisma, PrismaClient } from './generated/prisma/client';

const log = createLogger('db');

/** The typed client. Create one per process with createDb and pass it to services. */
export type Db = PrismaClient;
/** The client inside `db.$transaction(async (tx) => …)`; services accept `Db | Tx`. */
export type Tx = Prisma.TransactionClient;
export type DbOrTx = Db | Tx;

export interface CreateDbOptions {
  url: string;
  /** Pool size; PostgreSQL here allows 100 connections in total, so keep it small. */
  poolMax?: number;
  /** Abort statements running longer than this. */
  statementTimeoutMs?: number;
  onPoolError?: (err: Error) => void;
}

export function createDb({ url, poolMax = 10, statementTimeoutMs, onPoolError }: CreateDbOptions): Db {
  const adapter = new PrismaPg(
    {
      connectionString: url,
      max: poolMax,
      ...(statementTimeoutMs ? { statement_timeout: statementTimeoutMs } : {}),
    },
    // An idle pooled connection dropped by the server would otherwise crash the process.
    {
      onPoolError:
        onPoolError ?? ((err) => log.warn({ err: err.message }, 'idle database connection failed')),
    },
  );
  return new PrismaClient({ adapter });
}
