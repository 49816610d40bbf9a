import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import {
  type AirbyteMessage,
  type ConnectorLogger,
  defineDestination,
  type StreamMapper,
  streamKey,
  type WriteContext,
} from '@sluice/protocol';
import { type Client, Connector } from './connect';
import { RowEncoder } from './encode';
import { parseEnv } from './env';
import { qualified, quoteIdent } from './names';
import { planStreams } from './plan';
import { internalSchemaOf, PostgresConfig, spec } from './spec';
import { dropOldGenerations, ensureSchema, prepareStream, swapIntoPlace } from './tables';
import { RecordTranscoder, TranscodedRecord } from './transcode';
import { CommitSequencer, PartitionWriter, StreamSink } from './writer';

export function parseConfig(raw: Record<string, unknown>): PostgresConfig {
  // Airbyte's older boolean `ssl` means "require" when no ssl_mode is given.
  const input =
    raw.ssl === true && raw.ssl_mode === undefined ? { ...raw, ssl_mode: { mode: 'require' } } : raw;
  const parsed = PostgresConfig.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new Error(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
}

async function check(config: PostgresConfig, logger: ConnectorLogger): Promise<void> {
  const client = await new Connector(config, logger).connect();
  try {
    await ensureSchema(client, config.schema);
    const probe = qualified(config.schema, `_airbyte_connection_test_${randomBytes(6).toString('hex')}`);
    await client.query(`CREATE TABLE ${probe} (id bigint, payload jsonb)`);
    try {
      await client.query(`INSERT INTO ${probe} VALUES (1, '{"ok":true}')`);
    } finally {
      await client.query(`DROP TABLE IF EXISTS ${probe}`);
    }
  } finally {
    await client.end().catch(() => {});
  }
}

const BACKLOG_HIGH = 8;
const BACKLOG_LOW = 4;
/** How long, after the data sockets end, the platform may take to close stdin (socket mode). */
const STDIN_GRACE_MS = 5_000;

type Status = 'STARTED' | 'RUNNING' | 'COMPLETE' | 'INCOMPLETE';

/** Stream statuses the platform forwards; they decide which overwrites may be swapped in. */
class StatusBook {
  private readonly byStream = new Map<string, Status>();
  seen = false;

  /**
   * `mapper`: the platform's stream mapping when the SDK applies it (SLUICE_STREAM_MAPPING): the
   * SDK maps records, and a status still in the source's names is mapped here the same way.
   */
  constructor(
    private readonly streams: Set<string>,
    private readonly mapper: StreamMapper | undefined,
  ) {}

  take(m: AirbyteMessage): void {
    const s = m.type === 'TRACE' ? m.trace?.stream_status : undefined;
    if (!s) return;
    this.seen = true;
    const d = s.stream_descriptor;
    let key = streamKey(d.name, d.namespace);
    if (!this.streams.has(key) && this.mapper) {
      try {
        const r = this.mapper.map({
          stream: d.name,
          ...(d.namespace === undefined ? {} : { namespace: d.namespace }),
          data: {},
          emitted_at: 0,
        });
        key = streamKey(r.stream, r.namespace);
      } catch {
        // Not a stream of this sync: ignored.
      }
    }
    this.byStream.set(key, s.status as Status);
  }

  /**
   * Whether a stream finished: its COMPLETE status arrived. A platform that forwards no
   * statuses at all leaves only the end of the input to go by (Airbyte's older protocol).
   */
  complete(key: string): boolean {
    return this.seen ? this.byStream.get(key) === 'COMPLETE' : true;
  }

  status(key: string): Status | undefined {
    return this.byStream.get(key);
  }
}

/**
 * Socket mode: the data comes over the sockets; stream statuses, when the platform forwards
 * them, come on stdin as in stdio mode. Read until stdin ends (briefly, once the data ended).
 */
function watchStdin(book: StatusBook, logger: ConnectorLogger): { done: (graceMs: number) => Promise<void> } {
  if (process.stdin.isTTY) return { done: async () => {} };
  let ended = false;
  const finished = new Promise<void>((resolve) => {
    const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
    rl.on('line', (line) => {
      if (!line.includes('STREAM_STATUS')) return;
      try {
        book.take(JSON.parse(line) as AirbyteMessage);
      } catch {
        logger.warn(`ignored a line on stdin that is not JSON: ${line.slice(0, 120)}`);
      }
    });
    rl.on('close', () => {
      ended = true;
      resolve();
    });
    process.stdin.on('error', () => resolve());
  });
  return {
    done: async (graceMs) => {
      if (ended) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([finished, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      process.stdin.pause();
      process.stdin.unref?.();
    },
  };
}

async function write(ctx: WriteContext<PostgresConfig>): Promise<void> {
  const { config, catalog, input, logger } = ctx;
  const env = parseEnv();
  const connector = new Connector(config, logger);
  const plans = planStreams(catalog, config.schema);
  const internalSchema = internalSchemaOf(config);
  const clients: Client[] = [];
  const book = new StatusBook(new Set(plans.map((p) => p.key)), ctx.mapping);
  const stdin = ctx.medium === 'SOCKET' ? watchStdin(book, logger) : undefined;
  try {
    const setup = await connector.connect();
    clients.push(setup);
    const sinks = new Map<string, StreamSink>();
    for (const plan of plans) {
      // Sets each column's kind to what the table holds (an existing table may differ).
      const target = await prepareStream(setup, plan, internalSchema, (m) => logger.info(m));
      const encoder = new RowEncoder({
        columns: plan.columns,
        generationId: plan.generationId,
        syncId: plan.syncId,
        withSequence: plan.dedup,
      });
      sinks.set(plan.key, new StreamSink(plan, target, encoder));
    }
    if (env.DESTINATION_POSTGRES_TRANSCODE === 'true') {
      const streams = new Map(
        [...sinks].map(([key, s]) => [key, { columns: s.plan.columns, encoder: s.encoder }]),
      );
      ctx.readRecordsWith(new RecordTranscoder(streams, ctx.mapping).read);
    }
    // See CommitSequencer: only dedup merges care about the order of slices.
    const sequencer =
      ctx.medium === 'SOCKET' && plans.some((p) => p.dedup) ? new CommitSequencer() : undefined;
    const writers: PartitionWriter[] = [];
    for (let i = 0; i < ctx.partitions; i++) {
      const client = i === 0 ? setup : await connector.connect();
      if (i > 0) clients.push(client);
      writers.push(
        new PartitionWriter(
          i,
          client,
          (s) => ctx.ack(s),
          env.DESTINATION_POSTGRES_COMMIT_BYTES,
          env.DESTINATION_POSTGRES_COMMIT_INTERVAL_MS,
          sequencer,
        ),
      );
    }
    /** Streams in the order their first record came. */
    const written: StreamSink[] = [];
    let lastSink: StreamSink | undefined;
    let lastName: string | undefined;
    let lastNamespace: string | undefined;
    try {
      for await (const batch of input) {
        const w = writers[batch.partition]!;
        for (const x of writers) if (x.failure) throw x.failure;
        for (const m of batch.messages) {
          if (m.type === 'RECORD') {
            const r = m.record!;
            if (r.stream !== lastName || r.namespace !== lastNamespace || !lastSink) {
              lastSink = sinks.get(streamKey(r.stream, r.namespace))!;
              lastName = r.stream;
              lastNamespace = r.namespace;
              if (lastSink.records === 0) {
                written.push(lastSink);
                warnUnknownFields(lastSink, r.data, logger);
              }
            }
            if (r instanceof TranscodedRecord) {
              const encoder = lastSink.encoder;
              w.appendRow(
                lastSink,
                r.row,
                r.rowStart,
                r.rowEnd,
                lastSink.plan.dedup ? ++encoder.sequence : undefined,
              );
              lastSink.transcoded++;
            } else w.append(lastSink, lastSink.encoder.encode(r));
            lastSink.records++;
          } else if (m.type === 'STATE') {
            w.state(m);
          } else if (m.type === 'TRACE') {
            book.take(m);
          }
        }
        if (w.backlog > BACKLOG_HIGH) await w.drainTo(BACKLOG_LOW);
      }
    } catch (err) {
      // The input failed (a bad line, a broken socket): commits already queued still run, so
      // the states before the failure are acknowledged; later records roll back with the
      // connection.
      sequencer?.seal(err as Error);
      await Promise.allSettled(writers.map((w) => w.settle()));
      throw err;
    }
    // The input ended: records after the last state are committed too (as Airbyte does).
    for (const w of writers) w.commit();
    await Promise.all(writers.map((w) => w.settle()));
    await stdin?.done(STDIN_GRACE_MS);

    for (const sink of sinks.values()) {
      const { plan, target } = sink;
      const finalizes = plan.truncate || plan.minimumGenerationId > 0;
      if (!finalizes) continue;
      if (!book.complete(plan.key)) {
        logger.warn(
          `stream "${plan.label}" did not complete (status ${book.status(plan.key) ?? 'none'}); its table is left as it was${target.isFinal ? '' : ` and its rows wait in ${qualified(target.schema, target.table)} for the next attempt`}`,
        );
        continue;
      }
      if (plan.truncate && !target.isFinal) {
        await swapIntoPlace(setup, plan, target, config.drop_cascade);
        logger.info(
          `stream "${plan.label}": generation ${plan.generationId} swapped into ${qualified(plan.schema, plan.table)}`,
        );
      } else if (!plan.truncate) {
        const n = await dropOldGenerations(setup, plan);
        if (n > 0)
          logger.info(
            `stream "${plan.label}": removed ${n} rows older than generation ${plan.minimumGenerationId}`,
          );
      }
    }
    for (const sink of written) {
      logger.info(
        `stream "${sink.plan.label}": ${sink.records} records written to ${sink.targetSql} (${sink.transcoded} read straight into COPY rows)`,
      );
    }
    logger.info(`commits: ${writers.map((w) => w.commits).join(', ')} (per connection)`);
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    if (stdin) process.stdin.unref?.();
  }
}

/** Fields a record has that the schema lacks are not loaded: say so once per stream. */
function warnUnknownFields(sink: StreamSink, data: Record<string, unknown>, logger: ConnectorLogger): void {
  if (sink.plan.columns.some((c) => c.whole)) return;
  const known = new Set(sink.plan.columns.map((c) => c.field));
  const unknown = Object.keys(data).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    logger.warn(
      `stream "${sink.plan.label}": fields ${unknown.map((u) => quoteIdent(u)).join(', ')} are not in the stream's schema and are not loaded`,
    );
  }
}

/** Loads streams into typed Postgres tables with COPY. */
export const destination = defineDestination<PostgresConfig>({
  spec,
  parseConfig,
  async check({ config, logger }) {
    await check(config, logger);
    return { status: 'SUCCEEDED' };
  },
  write,
});
