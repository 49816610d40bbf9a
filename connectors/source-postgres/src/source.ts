import {
  ConfigError,
  dataChannelMode,
  defineSource,
  parseSdkEnv,
  processEnv,
  type ReadContext,
} from '@sluice/protocol';
import { introspect, isCdcCapable, streamOf } from './catalog';
import { checkCdc, readCdc } from './cdc/read';
import { isCdc, type PostgresSourceConfig, parseConfig } from './config';
import { Endpoint } from './connect';
import { planStreams } from './plan';
import { spec } from './spec';
import { readFullRefresh, readIncremental } from './standard';

async function withEndpoint<T>(
  config: PostgresSourceConfig,
  fn: (endpoint: Endpoint) => Promise<T>,
): Promise<T> {
  const endpoint = new Endpoint(config);
  try {
    return await fn(endpoint);
  } finally {
    await endpoint.close();
  }
}

/**
 * The number of sockets in socket mode. The read context does not carry it, so it comes from
 * the same environment the SDK parsed (through the SDK's own parser).
 */
function socketCount(ctx: ReadContext<PostgresSourceConfig>): number {
  if (ctx.medium !== 'SOCKET') return 1;
  const mode = dataChannelMode(parseSdkEnv(processEnv()));
  return mode.medium === 'SOCKET' ? mode.paths.length : 1;
}

export const source = defineSource<PostgresSourceConfig>({
  spec,
  parseConfig,
  async check({ config, logger }) {
    return withEndpoint(config, async (endpoint) => {
      const client = await endpoint.connect({ role: 'check' });
      try {
        const info = await client.query<{ version: string; ssl: boolean | null }>(
          `SELECT current_setting('server_version') AS version,
                  (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl`,
        );
        logger.info(
          `connected to Postgres ${info.rows[0]?.version} (ssl: ${info.rows[0]?.ssl ? 'on' : 'off'})`,
        );
        if (config.schemas.length > 0) {
          const found = await client.query<{ nspname: string }>(
            'SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[])',
            [config.schemas],
          );
          const have = new Set(found.rows.map((r) => r.nspname));
          const missing = config.schemas.filter((s) => !have.has(s));
          if (missing.length > 0) {
            return {
              status: 'FAILED',
              message: `schema${missing.length > 1 ? 's' : ''} ${missing.map((s) => `"${s}"`).join(', ')} not found in database "${config.database}"`,
            };
          }
        }
        if (isCdc(config)) {
          const problem = await checkCdc(client, config);
          if (problem) return { status: 'FAILED', message: problem };
        }
        return { status: 'SUCCEEDED' };
      } finally {
        await client.end().catch(() => {});
      }
    });
  },
  async discover({ config }) {
    return withEndpoint(config, async (endpoint) => {
      const client = await endpoint.connect({ role: 'discover' });
      try {
        const tables = await introspect(client, { schemas: config.schemas });
        return { streams: tables.map((t) => streamOf(t, isCdc(config))) };
      } finally {
        await client.end().catch(() => {});
      }
    });
  },
  async read(ctx) {
    const { config, catalog, logger } = ctx;
    await withEndpoint(config, async (endpoint) => {
      const client = await endpoint.connect({ role: 'metadata' });
      let plans: Awaited<ReturnType<typeof planStreams>>;
      try {
        plans = await planStreams(client, catalog, config.schemas, logger);
      } finally {
        await client.end().catch(() => {});
      }
      const sockets = socketCount(ctx);
      if (isCdc(config)) {
        const cdcPlans = plans.filter((p) => p.configured.sync_mode === 'incremental');
        const notCapable = cdcPlans.filter((p) => !isCdcCapable(p.table));
        if (notCapable.length > 0) {
          throw new ConfigError(
            `CDC reads incremental streams from the WAL, which needs tables with a primary key: ${notCapable.map((p) => `"${p.label}"`).join(', ')} ${notCapable.length > 1 ? 'have' : 'has'} none; sync ${notCapable.length > 1 ? 'them' : 'it'} in full refresh mode`,
          );
        }
        await readCdc(ctx, endpoint, plans, sockets);
        return;
      }
      for (const plan of plans) {
        if (plan.configured.sync_mode === 'incremental') await readIncremental(ctx, endpoint, plan, sockets);
        else await readFullRefresh(ctx, endpoint, plan, sockets);
      }
    });
  },
});
