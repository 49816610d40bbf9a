import {
  type AirbyteStateMessage,
  ConfigError,
  type ConnectorLogger,
  type ReadContext,
  type SourceOutput,
} from '@sluice/protocol';
import type pg from 'pg';
import type { CdcMethod, PostgresSourceConfig } from '../config';
import type { Endpoint } from '../connect';
import { type Encoder, encoderFor } from '../convert';
import { emitWithChanges } from '../emit';
import type { StreamPlan } from '../plan';
import { checkPosition, type SnapshotPosition, SnapshotSession } from '../snapshot';
import { ident, qualified } from '../sql';
import { readerCount, readFullRefresh, readSnapshot } from '../standard';
import { scalarKindOf, type ValueType } from '../types';
import {
  decodePgOutput,
  formatLsn,
  type PgOutputMessage,
  parseLsn,
  pgTimeToIso,
  type ReplicationMessage,
  type TupleValue,
} from './pgoutput';
import { type CreatedSlot, checkSlotName, createSlot, ReplicationStream } from './replication';

type CdcConfig = PostgresSourceConfig & { replication_method: CdcMethod };
type Ctx = ReadContext<PostgresSourceConfig>;

/** Publications this connector created carry this comment, so it may add tables to them. */
const OWN_PUBLICATION = 'created by sluice source-postgres';

interface SlotInfo {
  plugin: string | null;
  database: string | null;
  active: boolean;
  restart_lsn: string | null;
  confirmed_flush_lsn: string | null;
  wal_status: string | null;
  lag_bytes: string | null;
  retained_bytes: string | null;
}

async function slotInfo(client: pg.Client, slot: string): Promise<SlotInfo | undefined> {
  const version = Number(
    (await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v,
  );
  const walStatus = version >= 130000 ? 'wal_status' : 'NULL::text';
  const res = await client.query<SlotInfo>(
    `SELECT plugin::text, database::text, active, restart_lsn::text, confirmed_flush_lsn::text,
            ${walStatus} AS wal_status,
            pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag_bytes,
            pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained_bytes
       FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  return res.rows[0];
}

/** Problems that stop CDC before it starts, for `check` (undefined when none). */
export async function checkCdc(client: pg.Client, config: PostgresSourceConfig): Promise<string | undefined> {
  const method = config.replication_method as CdcMethod;
  const badName = checkSlotName(method.replication_slot);
  if (badName) return badName;
  const wal = (await client.query<{ w: string }>("SELECT current_setting('wal_level') AS w")).rows[0]?.w;
  if (wal !== 'logical') return `CDC needs wal_level=logical; the server has wal_level=${wal}`;
  const role = await client.query<{ ok: boolean }>(
    'SELECT rolreplication OR rolsuper AS ok FROM pg_catalog.pg_roles WHERE rolname = current_user',
  );
  if (!role.rows[0]?.ok) {
    return `user "${config.username}" lacks the REPLICATION attribute CDC needs (ALTER USER ${ident(config.username)} REPLICATION)`;
  }
  const slot = await slotInfo(client, method.replication_slot);
  if (slot) {
    const problem = slotProblem(slot, method.replication_slot, config.database);
    if (problem) return problem;
  }
  return undefined;
}

function slotProblem(slot: SlotInfo, name: string, database: string): string | undefined {
  if (slot.plugin !== 'pgoutput') {
    return `replication slot "${name}" uses the plugin ${slot.plugin ?? '(physical slot)'}; CDC needs a logical slot with pgoutput`;
  }
  if (slot.database !== database) {
    return `replication slot "${name}" belongs to database "${slot.database}", not "${database}"`;
  }
  if (slot.wal_status === 'lost') {
    return `replication slot "${name}" was invalidated by the server (the WAL it needed was removed, see max_slot_wal_keep_size); a full resync is needed — reset the connection`;
  }
  return undefined;
}

/** The GLOBAL state of a CDC sync: the WAL position to resume at, and each stream's own state. */
class GlobalState {
  private readonly streams = new Map<StreamPlan, Record<string, unknown>>();

  constructor(
    private readonly out: SourceOutput,
    private shared: { state_type: 'cdc'; lsn: string; slot: string; publication: string },
  ) {}

  get lsn(): bigint {
    return parseLsn(this.shared.lsn);
  }

  setLsn(lsn: bigint): void {
    this.shared = { ...this.shared, lsn: formatLsn(lsn) };
  }

  set(plan: StreamPlan, state: Record<string, unknown>): void {
    this.streams.set(plan, state);
  }

  emit(): void {
    const state: AirbyteStateMessage = {
      type: 'GLOBAL',
      global: {
        shared_state: { ...this.shared },
        stream_states: [...this.streams].map(([p, s]) => ({
          stream_descriptor:
            p.namespace === undefined ? { name: p.name } : { name: p.name, namespace: p.namespace },
          stream_state: s,
        })),
      },
    };
    this.out.state(state);
  }
}

function savedGlobal(ctx: Ctx): { shared: Record<string, unknown> } | undefined {
  const g = ctx.state.find((s) => s.type === 'GLOBAL')?.global;
  if (!g?.shared_state) return undefined;
  return { shared: g.shared_state as Record<string, unknown> };
}

async function ensurePublication(
  client: pg.Client,
  name: string,
  plans: StreamPlan[],
  logger: ConnectorLogger,
): Promise<void> {
  const tables = plans.map((p) => qualified(p.table.schema, p.table.name));
  const pub = await client.query<{
    all: boolean;
    ins: boolean;
    upd: boolean;
    del: boolean;
    comment: string | null;
  }>(
    `SELECT puballtables AS all, pubinsert AS ins, pubupdate AS upd, pubdelete AS del,
            obj_description(oid, 'pg_publication') AS comment
       FROM pg_catalog.pg_publication WHERE pubname = $1`,
    [name],
  );
  const row = pub.rows[0];
  if (!row) {
    try {
      await client.query(
        `CREATE PUBLICATION ${ident(name)}${tables.length ? ` FOR TABLE ${tables.join(', ')}` : ''}`,
      );
      await client.query(`COMMENT ON PUBLICATION ${ident(name)} IS '${OWN_PUBLICATION}'`);
    } catch (err) {
      throw new ConfigError(
        `publication "${name}" does not exist and could not be created (${(err as Error).message}); create it with CREATE PUBLICATION ${ident(name)} FOR TABLE ${tables.join(', ')}`,
        { cause: err },
      );
    }
    logger.info(`created publication "${name}" for ${tables.length} table(s)`);
    return;
  }
  if (!row.ins || !row.upd || !row.del) {
    logger.warn(
      `publication "${name}" does not publish every insert, update and delete: those it omits are not synced`,
    );
  }
  if (row.all) return;
  const members = await client.query<{ s: string; t: string }>(
    'SELECT schemaname AS s, tablename AS t FROM pg_catalog.pg_publication_tables WHERE pubname = $1',
    [name],
  );
  const have = new Set(members.rows.map((m) => `${m.s}\u0000${m.t}`));
  const missing = plans.filter((p) => !have.has(`${p.table.schema}\u0000${p.table.name}`));
  if (missing.length === 0) return;
  const list = missing.map((p) => qualified(p.table.schema, p.table.name)).join(', ');
  if (row.comment === OWN_PUBLICATION) {
    await client.query(`ALTER PUBLICATION ${ident(name)} ADD TABLE ${list}`);
    logger.info(`added ${missing.length} table(s) to publication "${name}"`);
    return;
  }
  throw new ConfigError(
    `publication "${name}" does not include ${missing.map((p) => `"${p.label}"`).join(', ')}: their changes would never arrive. Run ALTER PUBLICATION ${ident(name)} ADD TABLE ${list};`,
  );
}

/**
 * Acknowledges to the server the position of the state the destination committed (the state
 * this sync started from), letting it discard older WAL. Done before streaming, on the idle
 * slot, so it does not depend on the stream living long enough for a status update to land;
 * the stream's status updates report the same position.
 */
async function acknowledge(
  client: pg.Client,
  slot: string,
  lsn: bigint,
  logger: ConnectorLogger,
): Promise<void> {
  const version = Number(
    (await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v,
  );
  if (version < 110000) return; // pg_replication_slot_advance is 11+; the stream's status update does it
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await client.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [slot, formatLsn(lsn)]);
      logger.info(`acknowledged ${formatLsn(lsn)} (the last committed state) on replication slot "${slot}"`);
      return;
    } catch (err) {
      const message = (err as Error).message;
      // A walsender of a previous run may still hold the slot for a moment.
      if (/active for PID/i.test(message) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      logger.warn(
        `could not acknowledge ${formatLsn(lsn)} on slot "${slot}" before streaming (${message}); the stream acknowledges it instead`,
      );
      return;
    }
  }
}

/** `"2024-05-01T10:00:00.123000Z"`: now, with Airbyte's microsecond precision. */
function isoNowMicros(): string {
  return `${new Date().toISOString().slice(0, -1)}000Z`;
}

function reportLag(ctx: Ctx, slot: string, info: SlotInfo | undefined, when: string): void {
  if (!info) return;
  const lag = Number(info.lag_bytes ?? 0);
  const retained = Number(info.retained_bytes ?? 0);
  ctx.logger.info(
    `replication slot "${slot}" ${when}: confirmed ${info.confirmed_flush_lsn}, ${lag} bytes of WAL behind the server, ${retained} bytes retained for it`,
  );
  ctx.out.message({
    type: 'TRACE',
    trace: {
      type: 'ANALYTICS',
      emitted_at: Date.now(),
      analytics: { type: 'postgres-cdc-slot-lag-bytes', value: String(lag) },
    },
  });
}

/**
 * CDC read: publication and slot (created when missing), the initial snapshot of streams that
 * need one (consistent with the slot when the slot is new), full refresh streams, then the WAL
 * from the saved position until caught up with the position current at the start.
 *
 * GLOBAL state: `shared_state: {state_type: "cdc", lsn, slot, publication}`; per stream
 * `{cdc: true}` once streaming, `{snapshot: position}` during its snapshot. `lsn` is the
 * position after the last transaction whose changes were all emitted before the state.
 */
export async function readCdc(
  ctx: Ctx,
  endpoint: Endpoint,
  plans: StreamPlan[],
  sockets: number,
): Promise<void> {
  const config = ctx.config as CdcConfig;
  const method = config.replication_method;
  const { logger, out } = ctx;
  const slot = method.replication_slot;
  const badName = checkSlotName(slot);
  if (badName) throw new ConfigError(badName);
  const cdcPlans = plans.filter((p) => p.configured.sync_mode === 'incremental');
  const frPlans = plans.filter((p) => p.configured.sync_mode !== 'incremental');
  if (cdcPlans.length === 0) {
    // Nothing to capture: no slot is created (it would hold WAL back for nobody).
    for (const p of frPlans) await readFullRefresh(ctx, endpoint, p, sockets);
    return;
  }
  const saved = savedGlobal(ctx);
  if (!saved && ctx.state.some((s) => s.type === 'STREAM')) {
    logger.warn(
      'the saved state is not a CDC state (the update method changed): CDC streams start with a snapshot',
    );
  }
  const meta = await endpoint.connect({ role: 'cdc metadata' });
  let created: CreatedSlot | undefined;
  try {
    const wal = (await meta.query<{ w: string }>("SELECT current_setting('wal_level') AS w")).rows[0]?.w;
    if (wal !== 'logical')
      throw new ConfigError(`CDC needs wal_level=logical; the server has wal_level=${wal}`);

    let info = await slotInfo(meta, slot);
    const savedLsn = typeof saved?.shared.lsn === 'string' ? parseLsn(saved.shared.lsn) : undefined;
    let fresh = savedLsn === undefined;
    let start = savedLsn ?? 0n;
    const ack: bigint | undefined = savedLsn;
    if (savedLsn !== undefined) {
      if (!info) {
        throw new ConfigError(
          `replication slot "${slot}" does not exist: it was dropped; a full resync is needed — reset the connection`,
        );
      }
      const problem = slotProblem(info, slot, config.database);
      if (problem) throw new ConfigError(problem);
      const confirmed = parseLsn(info.confirmed_flush_lsn ?? '0/0');
      if (savedLsn > confirmed) {
        await acknowledge(meta, slot, savedLsn, logger);
        info = (await slotInfo(meta, slot)) ?? info;
      }
      if (confirmed > savedLsn) {
        const gap = `the saved position ${formatLsn(savedLsn)} is behind the slot's confirmed position ${formatLsn(confirmed)}`;
        if (method.lsn_commit_behaviour === 'While reading Data') {
          logger.warn(`${gap}: changes in between were acknowledged while reading and are not read again`);
          start = confirmed;
        } else if (method.invalid_cdc_cursor_position_behavior === 'Re-sync data') {
          logger.warn(
            `${gap}: the server discarded changes in between; re-reading every CDC stream as configured`,
          );
          fresh = true;
        } else {
          throw new ConfigError(
            `${gap}: the server discarded changes in between, so continuing would lose them. Reset the connection for a full resync (or set invalid_cdc_cursor_position_behavior to "Re-sync data")`,
          );
        }
      }
    }
    await ensurePublication(meta, method.publication, cdcPlans, logger);
    if (fresh) {
      if (!info) {
        created = await createSlot(endpoint, slot);
        start = created.consistentPoint;
        logger.info(`created replication slot "${slot}" at ${formatLsn(start)}`);
      } else {
        const problem = slotProblem(info, slot, config.database);
        if (problem) throw new ConfigError(problem);
        start = parseLsn(info.confirmed_flush_lsn ?? '0/0');
        logger.info(`using existing replication slot "${slot}" from ${formatLsn(start)}`);
      }
      info = await slotInfo(meta, slot);
    }
    reportLag(ctx, slot, info, 'at start');
    // Snapshot rows carry an LSN below every change the slot can still send (its restart
    // point), so a destination deduplicating by _ab_cdc_lsn always prefers a streamed change.
    const restart = parseLsn(info?.restart_lsn ?? formatLsn(start));
    const snapshotLsn = Number(restart > 0n ? restart - 1n : 0n);

    const state = new GlobalState(out, {
      state_type: 'cdc',
      lsn: formatLsn(start),
      slot,
      publication: method.publication,
    });
    const needSnapshot: Array<{ plan: StreamPlan; from: SnapshotPosition | undefined }> = [];
    for (const p of cdcPlans) {
      const prior = ctx.streamState(p.name, p.namespace);
      if (!fresh && prior?.cdc === true) state.set(p, { cdc: true });
      else {
        const from = !fresh && prior?.snapshot ? checkPosition(prior.snapshot, p.label) : undefined;
        state.set(p, from ? { snapshot: from } : { snapshot: {} });
        needSnapshot.push({ plan: p, from });
      }
    }
    for (const p of frPlans) state.set(p, ctx.streamState(p.name, p.namespace) ?? {});
    for (const p of cdcPlans) out.streamStatus(p.name, 'STARTED', p.namespace);

    if (needSnapshot.length > 0) {
      const session = await SnapshotSession.open(
        endpoint,
        readerCount(ctx, sockets),
        logger,
        created?.snapshotName,
      );
      // The sessions imported the slot's snapshot; the exporting walsender is no longer needed.
      await created?.connection.end().catch(() => {});
      created = undefined;
      const updatedAt = isoNowMicros();
      const suffix = `,"_ab_cdc_lsn":${snapshotLsn},"_ab_cdc_updated_at":"${updatedAt}","_ab_cdc_deleted_at":null`;
      let ok = false;
      try {
        for (const { plan, from } of needSnapshot) {
          if (plan.table.estimatedRows >= 0) {
            out.estimate(plan.name, { rows: plan.table.estimatedRows, namespace: plan.namespace });
          }
          out.streamStatus(plan.name, 'RUNNING', plan.namespace);
          if (from) logger.info(`${plan.label}: resuming the initial snapshot at ${JSON.stringify(from)}`);
          await readSnapshot(
            ctx,
            session,
            plan,
            from,
            (after) => {
              state.set(plan, after === 'done' ? { cdc: true } : { snapshot: after });
              state.emit();
            },
            suffix,
          );
        }
        ok = true;
      } finally {
        await session.close(ok);
      }
    } else if (created) {
      await created.connection.end().catch(() => {});
      created = undefined;
    }

    for (const p of frPlans) {
      await readFullRefresh(ctx, endpoint, p, sockets, (s) => {
        state.set(p, s);
        state.emit();
      });
    }

    for (const p of cdcPlans) out.streamStatus(p.name, 'RUNNING', p.namespace);
    if (method.heartbeat_action_query.trim() !== '') await meta.query(method.heartbeat_action_query);
    // The insert position covers every transaction committed before now, even with
    // synchronous_commit=off (its WAL reaches disk, and the walsender, a moment later).
    const target = parseLsn(
      (await meta.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn,
    );
    await streamChanges(ctx, endpoint, method, cdcPlans, state, ack ?? start, target);
    reportLag(ctx, slot, await slotInfo(meta, slot), 'at end');
    for (const p of cdcPlans) out.streamStatus(p.name, 'COMPLETE', p.namespace);
  } finally {
    await created?.connection.end().catch(() => {});
    await meta.end().catch(() => {});
  }
}

/** How the changes of one relation become records. */
interface RelationPlan {
  plan: StreamPlan;
  /** Per relation column: its JSON key and encoder, or undefined when not selected. */
  columns: Array<{ key: string; name: string; encode: Encoder } | undefined>;
  /** Positions of the primary key columns among the relation's columns. */
  keyIndexes: number[];
  warnedToast: boolean;
}

function relationPlan(
  message: Extract<PgOutputMessage, { tag: 'relation' }>,
  plans: StreamPlan[],
): RelationPlan | undefined {
  const plan = plans.find((p) => p.table.schema === message.namespace && p.table.name === message.name);
  if (!plan) return undefined;
  const selected = new Map(plan.columns.map((c) => [c.name, c]));
  const known = new Map(plan.table.columns.map((c) => [c.typeOid, c.type]));
  return {
    plan,
    columns: message.columns.map((col) => {
      const info = selected.get(col.name);
      if (!info) return undefined;
      const type: ValueType =
        info.typeOid === col.typeOid
          ? info.type
          : (known.get(col.typeOid) ?? { kind: scalarKindOf(col.typeOid) });
      return { key: JSON.stringify(col.name), name: col.name, encode: encoderFor(type) };
    }),
    keyIndexes: plan.table.primaryKey
      .map((k) => message.columns.findIndex((c) => c.name === k))
      .filter((i) => i >= 0),
    warnedToast: false,
  };
}

/** One change as record JSON, with Airbyte's CDC metadata columns. */
function changeRecord(
  rel: RelationPlan,
  values: TupleValue[],
  old: TupleValue[] | undefined,
  meta: string,
  logger: ConnectorLogger,
): { json: string; nulled: string[] | undefined } {
  let json = '{';
  let nulled: string[] | undefined;
  let first = true;
  for (let i = 0; i < rel.columns.length; i++) {
    const col = rel.columns[i];
    if (!col) continue;
    let v = values[i];
    if (v === undefined) {
      // An unchanged TOASTed value is not sent; the old row has it only with REPLICA IDENTITY FULL.
      v = old?.[i];
      if (v === undefined) {
        if (!rel.warnedToast) {
          rel.warnedToast = true;
          logger.warn(
            `${rel.plan.label}: an update left a large (TOASTed) value unchanged and the server did not send it; such columns are omitted from update records. ALTER TABLE … REPLICA IDENTITY FULL sends them.`,
          );
        }
        continue;
      }
    }
    json += first ? `${col.key}:` : `,${col.key}:`;
    first = false;
    if (v === null) json += 'null';
    else {
      const encoded = col.encode(v);
      if (encoded === undefined) {
        json += 'null';
        if (nulled === undefined) nulled = [];
        nulled.push(col.name);
      } else json += encoded;
    }
  }
  json += first ? meta.slice(1) : meta;
  return { json: `${json}}`, nulled };
}

async function streamChanges(
  ctx: Ctx,
  endpoint: Endpoint,
  method: CdcMethod,
  plans: StreamPlan[],
  state: GlobalState,
  ack: bigint,
  target: bigint,
): Promise<void> {
  const { out, logger } = ctx;
  const from = state.lsn;
  if (target <= from) {
    // No WAL was written since the saved position: nothing to stream (and the server would
    // have nothing to report either, so waiting would only run into the idle timeout).
    state.emit();
    logger.info(`CDC: no WAL written since ${formatLsn(from)}; nothing to stream`);
    return;
  }
  const stream = await ReplicationStream.start(
    endpoint,
    method.replication_slot,
    method.publication,
    from,
    ack,
  );
  const whileReading = method.lsn_commit_behaviour === 'While reading Data';
  logger.info(
    `streaming changes from ${formatLsn(from)} until ${formatLsn(target)} (acknowledged to the server: ${formatLsn(ack)})`,
  );
  const relations = new Map<number, RelationPlan | undefined>();
  const every = ctx.config.chunk_size_rows;
  const idleMs = method.initial_waiting_seconds * 1000;
  let position = from;
  let inTransaction = false;
  let commitIso = '';
  let sinceState = 0;
  let changes = 0;
  let transactions = 0;
  let stopReason = '';
  const iterator = stream.messages();
  // A read still waiting when the sync stops: settled (and ignored) once the stream closes.
  let pending: Promise<IteratorResult<ReplicationMessage>> | undefined;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      pending ??= iterator.next();
      const next = await Promise.race([
        pending,
        new Promise<'idle'>((resolve) => {
          timer = setTimeout(() => resolve('idle'), idleMs);
        }),
      ]);
      clearTimeout(timer);
      if (next !== 'idle') pending = undefined;
      if (next === 'idle') {
        stopReason = `no change for ${method.initial_waiting_seconds} s`;
        break;
      }
      if (next.done) {
        stopReason = 'the server ended the stream';
        break;
      }
      const message: ReplicationMessage = next.value;
      if (message.type === 'keepalive') {
        if (message.replyRequested) stream.sendStatus();
        // Outside a transaction the server has sent everything decoded before walEnd.
        if (!inTransaction && message.walEnd >= target) {
          if (message.walEnd > position) position = message.walEnd;
          stopReason = `caught up with ${formatLsn(target)}`;
          break;
        }
        continue;
      }
      const m = decodePgOutput(message.payload);
      switch (m.tag) {
        case 'begin':
          inTransaction = true;
          commitIso = pgTimeToIso(m.commitTime);
          break;
        case 'relation':
          relations.set(m.relid, relationPlan(m, plans));
          break;
        case 'insert':
        case 'update':
        case 'delete': {
          const rel = relations.get(m.relid);
          if (!rel) break;
          const lsn = Number(message.walStart);
          const live = `,"_ab_cdc_lsn":${lsn},"_ab_cdc_updated_at":"${commitIso}","_ab_cdc_deleted_at":null`;
          const gone = `,"_ab_cdc_lsn":${lsn},"_ab_cdc_updated_at":"${commitIso}","_ab_cdc_deleted_at":"${commitIso}"`;
          const emit = (values: TupleValue[], meta: string, old?: TupleValue[]) => {
            const { json, nulled } = changeRecord(rel, values, old, meta, logger);
            if (nulled) emitWithChanges(out, rel.plan.name, rel.plan.namespace, json, nulled);
            else out.recordJson(rel.plan.name, json, rel.plan.namespace);
            sinceState++;
            changes++;
          };
          if (m.tag === 'delete') emit(m.oldTuple, gone);
          else if (m.tag === 'insert') emit(m.newTuple, live);
          else {
            // The old row is whole only with REPLICA IDENTITY FULL ('O'); a key tuple ('K')
            // has nulls for every other column, which must not stand in for unsent values.
            const oldRow = m.oldKind === 'O' ? m.oldTuple : undefined;
            // An update that changes the primary key moves the row: the old key is deleted.
            const oldTuple = m.oldTuple;
            const moved = rel.keyIndexes.some(
              (i) =>
                oldTuple?.[i] !== undefined && m.newTuple[i] !== undefined && oldTuple[i] !== m.newTuple[i],
            );
            if (oldTuple && moved) emit(oldTuple, gone);
            emit(m.newTuple, live, oldRow);
          }
          if (out.needsDrain) await out.drain();
          break;
        }
        case 'truncate': {
          const names = m.relids.map((id) => relations.get(id)?.plan.label).filter((n) => n !== undefined);
          if (names.length > 0) {
            logger.warn(
              `TRUNCATE of ${names.join(', ')} is not replicated: the destination keeps those rows`,
            );
          }
          break;
        }
        case 'commit':
          inTransaction = false;
          transactions++;
          position = m.endLsn;
          if (sinceState >= every) {
            state.setLsn(position);
            state.emit();
            if (whileReading) stream.acknowledge(position);
            sinceState = 0;
          }
          break;
        default:
          break;
      }
      if (!inTransaction && position >= target) {
        stopReason = `caught up with ${formatLsn(target)}`;
        break;
      }
    }
    if (whileReading && position > from) stream.acknowledge(position);
  } finally {
    pending?.catch(() => {});
    await stream.close();
  }
  if (position > state.lsn) state.setLsn(position);
  state.emit();
  if (whileReading) logger.info(`acknowledged ${formatLsn(position)} while reading`);
  logger.info(
    `CDC: ${changes} change(s) in ${transactions} transaction(s); stopped: ${stopReason}; next sync resumes at ${formatLsn(state.lsn)}`,
  );
}
