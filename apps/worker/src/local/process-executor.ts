import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  type ConnectorRunContext,
  ConnectorRunError,
  LocalConnectorRunner,
  type SecretBox,
} from '@sluice/api';
import { connectorProcessEnv, type Db } from '@sluice/db';
import { ConnectorSpecification } from '@sluice/protocol';
import type { ConnectorInput, StreamStatsReport } from '@sluice/workload';
import type { ExecutionContext, ExecutionResult, WorkloadExecutor } from './launcher';
import { mapStream, type NamespaceSettings } from './mapping';

export interface ProcessExecutorOptions {
  db: Db;
  box: SecretBox;
  timeoutsMs?: { spec?: number; check?: number; discover?: number };
  killGraceMs?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const key = (name: string, namespace?: string | null) => `${namespace ?? ''}\u0000${name}`;

interface Counters {
  recordsEmitted: number;
  bytesEmitted: number;
  recordsCommitted: number;
  bytesCommitted: number;
}

/**
 * Runs workloads as local connector processes (the definition's `command`): spec, check and
 * discover through the API's LocalConnectorRunner, syncs as `read | write` in stdio mode with
 * the middleware's duties done here — namespace mapping, state forwarding and persisting the
 * states the destination echoes, per-stream stats, logs. Image-only connectors cannot run here.
 */
export function processExecutor(opts: ProcessExecutorOptions): WorkloadExecutor {
  const runner = new LocalConnectorRunner({
    box: opts.box,
    ...(opts.timeoutsMs ? { timeoutsMs: opts.timeoutsMs } : {}),
  });
  return {
    async execute(ctx) {
      try {
        if (ctx.workload.type === 'sync') return await runSync(ctx, opts.killGraceMs ?? 5000);
        return await runConnector(ctx, opts.db, runner);
      } catch (err) {
        if (err instanceof ConnectorRunError) {
          return {
            status: 'failure',
            reason: err.message,
            output: {
              failures: [
                {
                  failureOrigin: err.failureOrigin,
                  failureType: err.failureType,
                  externalMessage: err.message,
                  ...(err.internalMessage ? { internalMessage: err.internalMessage } : {}),
                },
              ],
            },
          };
        }
        throw err;
      }
    },
  };
}

async function runConnector(
  ctx: ExecutionContext,
  db: Db,
  runner: LocalConnectorRunner,
): Promise<ExecutionResult> {
  const connector = ctx.input.connector as ConnectorInput | undefined;
  if (!connector?.definitionId)
    return { status: 'failure', reason: 'the workload names no connector definition' };
  const def = await db.connectorDefinition.findUnique({ where: { id: connector.definitionId } });
  if (!def) return { status: 'failure', reason: `connector definition ${connector.definitionId} not found` };
  const spec = ConnectorSpecification.safeParse(def.spec);
  const runnable = {
    id: def.id,
    name: def.name,
    kind: def.kind,
    version: def.version,
    image: def.image,
    command: connector.command ?? def.command,
    spec: spec.success ? spec.data : null,
  };
  const runCtx: ConnectorRunContext = {
    jobId: '',
    attemptId: '',
    workspaceId: '',
    dataplaneGroup: '',
    log: ctx.log,
  };
  switch (ctx.workload.type) {
    case 'spec':
      return { status: 'success', output: { spec: await runner.spec(runnable) } };
    case 'check': {
      const r = await runner.check(runnable, connector.config ?? {}, runCtx);
      return {
        status: 'success',
        output: {
          connectionStatus: {
            status: r.status === 'succeeded' ? 'SUCCEEDED' : 'FAILED',
            ...(r.message ? { message: r.message } : {}),
          },
          ...(r.status === 'failed' && r.failureType ? { failureType: r.failureType } : {}),
        },
      };
    }
    default:
      return {
        status: 'success',
        output: { catalog: await runner.discover(runnable, connector.config ?? {}, runCtx) },
      };
  }
}

function stop(child: ChildProcess, graceMs: number) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
}

const exited = (child: ChildProcess) =>
  new Promise<number>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else if (child.signalCode !== null) resolve(128);
    else {
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
      child.on('error', () => resolve(127));
    }
  });

function mapState(
  state: Record<string, unknown>,
  map: (d: { name: string; namespace?: string }) => { name: string; namespace?: string },
) {
  const desc = (d: unknown) =>
    isObject(d) && typeof d.name === 'string' ? map(d as { name: string; namespace?: string }) : d;
  const out: Record<string, unknown> = { ...state };
  if (isObject(state.stream))
    out.stream = { ...state.stream, stream_descriptor: desc(state.stream.stream_descriptor) };
  if (isObject(state.global) && Array.isArray(state.global.stream_states)) {
    out.global = {
      ...state.global,
      stream_states: state.global.stream_states.map((s) =>
        isObject(s) ? { ...s, stream_descriptor: desc(s.stream_descriptor) } : s,
      ),
    };
  }
  return out;
}

async function runSync(ctx: ExecutionContext, graceMs: number): Promise<ExecutionResult> {
  const input = ctx.input;
  const source = input.source as ConnectorInput | undefined;
  const destination = input.destination as ConnectorInput | undefined;
  if (!source?.command?.length || !destination?.command?.length) {
    return {
      status: 'failure',
      reason: 'this launcher runs connectors as local processes: both connectors need a command',
    };
  }
  const catalog = input.catalog as { streams: { stream: { name: string; namespace?: string } }[] };
  const settings = input as NamespaceSettings;
  const forward = new Map<string, { name: string; namespace?: string }>();
  const back = new Map<string, { name: string; namespace?: string }>();
  const destCatalog = {
    ...catalog,
    streams: catalog.streams.map((s) => {
      const mapped = mapStream(settings, s.stream);
      forward.set(key(s.stream.name, s.stream.namespace), mapped);
      back.set(key(mapped.name, mapped.namespace), {
        name: s.stream.name,
        ...(s.stream.namespace ? { namespace: s.stream.namespace } : {}),
      });
      return {
        ...s,
        stream: {
          ...s.stream,
          name: mapped.name,
          ...(mapped.namespace ? { namespace: mapped.namespace } : { namespace: undefined }),
        },
      };
    }),
  };
  const toDest = (d: { name: string; namespace?: string }) => forward.get(key(d.name, d.namespace)) ?? d;
  const toSource = (d: { name: string; namespace?: string }) => back.get(key(d.name, d.namespace)) ?? d;

  const dir = await mkdtemp(join(tmpdir(), 'sluice-sync-'));
  try {
    await mkdir(join(dir, 'source'), { mode: 0o700 });
    await mkdir(join(dir, 'destination'), { mode: 0o700 });
    const file = async (path: string, value: unknown) => {
      await writeFile(join(dir, path), JSON.stringify(value), { mode: 0o600 });
      return join(dir, path);
    };
    const srcArgs = [
      'read',
      '--config',
      await file('source/connectorConfig.json', source.config ?? {}),
      '--catalog',
      await file('source/catalog.json', catalog),
    ];
    const state = Array.isArray(input.state) ? input.state : [];
    if (state.length > 0) srcArgs.push('--state', await file('source/inputState.json', state));
    const dstArgs = [
      'write',
      '--config',
      await file('destination/connectorConfig.json', destination.config ?? {}),
      '--catalog',
      await file('destination/catalog.json', destCatalog),
    ];
    const env = connectorProcessEnv();
    const [srcFile, ...srcPre] = source.command as [string, ...string[]];
    const [dstFile, ...dstPre] = destination.command as [string, ...string[]];
    const src = spawn(srcFile, [...srcPre, ...srcArgs], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const dst = spawn(dstFile, [...dstPre, ...dstArgs], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const srcExit = exited(src);
    const dstExit = exited(dst);
    const onAbort = () => {
      stop(src, graceMs);
      stop(dst, graceMs);
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    dst.stdin?.on('error', () => {});

    const counters = new Map<string, Counters>();
    const counter = (k: string) => {
      let c = counters.get(k);
      if (!c) {
        c = { recordsEmitted: 0, bytesEmitted: 0, recordsCommitted: 0, bytesCommitted: 0 };
        counters.set(k, c);
      }
      return c;
    };
    const publish = () => {
      const streams: StreamStatsReport[] = [...counters.entries()].map(([k, c]) => {
        const [namespace, name] = k.split('\u0000') as [string, string];
        return { stream: { name, ...(namespace ? { namespace } : {}) }, ...c };
      });
      ctx.setStats(streams);
    };
    const failures: Record<string, unknown>[] = [];
    /** States forwarded to the destination, with the counts they cover, until it echoes them. */
    const inFlight: { json: string; emitted: Map<string, { records: number; bytes: number }> }[] = [];
    let reporting: Promise<void> = Promise.resolve();

    const logStream = (child: ChildProcess, role: string) => {
      const rl = createInterface({ input: child.stderr!, crlfDelay: Number.POSITIVE_INFINITY });
      rl.on('line', (line) => ctx.log(`[${role}] ${line.slice(0, 4000)}`));
    };
    logStream(src, 'source');
    logStream(dst, 'destination');

    const handleCommon = (msg: Record<string, unknown>, role: 'source' | 'destination') => {
      if (msg.type === 'LOG' && isObject(msg.log))
        ctx.log(`[${role}] [${msg.log.level}] ${String(msg.log.message).slice(0, 8000)}`);
      if (
        msg.type === 'TRACE' &&
        isObject(msg.trace) &&
        msg.trace.type === 'ERROR' &&
        isObject(msg.trace.error)
      ) {
        const e = msg.trace.error;
        failures.push({
          failureOrigin: role,
          failureType: typeof e.failure_type === 'string' ? e.failure_type : 'system_error',
          externalMessage: String(e.message ?? 'the connector reported an error'),
          ...(typeof e.internal_message === 'string' ? { internalMessage: e.internal_message } : {}),
          ...(typeof e.stack_trace === 'string' ? { stacktrace: e.stack_trace } : {}),
        });
        ctx.log(`[${role}] [ERROR] ${String(e.message)}`);
      }
    };

    const destinationDone = (async () => {
      const rl = createInterface({ input: dst.stdout!, crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of rl) {
        let msg: unknown;
        try {
          msg = JSON.parse(line);
        } catch {
          ctx.log(`[destination] ${line.slice(0, 4000)}`);
          continue;
        }
        if (!isObject(msg)) continue;
        if (msg.type === 'STATE' && isObject(msg.state)) {
          const json = JSON.stringify(msg.state);
          const at = inFlight.findIndex((s) => s.json === json);
          if (at >= 0) {
            const covered = inFlight[at]!.emitted;
            inFlight.splice(0, at + 1);
            for (const [k, v] of covered) {
              const c = counter(k);
              c.recordsCommitted = Math.max(c.recordsCommitted, v.records);
              c.bytesCommitted = Math.max(c.bytesCommitted, v.bytes);
            }
            publish();
          }
          const committed = mapState(msg.state, toSource);
          reporting = reporting.then(() => ctx.reportState([committed]));
          continue;
        }
        handleCommon(msg, 'destination');
      }
    })();

    const rl = createInterface({ input: src.stdout!, crlfDelay: Number.POSITIVE_INFINITY });
    const write = async (text: string) => {
      if (!dst.stdin || dst.stdin.destroyed) return;
      if (!dst.stdin.write(`${text}\n`)) await new Promise<void>((r) => dst.stdin!.once('drain', r));
    };
    let lastPublish = Date.now();
    for await (const line of rl) {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        ctx.log(`[source] ${line.slice(0, 4000)}`);
        continue;
      }
      if (!isObject(msg)) continue;
      if (msg.type === 'RECORD' && isObject(msg.record)) {
        const r = msg.record as { stream: string; namespace?: string };
        const c = counter(key(r.stream, r.namespace));
        c.recordsEmitted++;
        c.bytesEmitted += Buffer.byteLength(JSON.stringify((msg.record as { data?: unknown }).data ?? null));
        const mapped = toDest({ name: r.stream, ...(r.namespace ? { namespace: r.namespace } : {}) });
        const { namespace: _drop, ...rest } = msg.record;
        await write(
          JSON.stringify({
            ...msg,
            record: {
              ...rest,
              stream: mapped.name,
              ...(mapped.namespace ? { namespace: mapped.namespace } : {}),
            },
          }),
        );
      } else if (msg.type === 'STATE' && isObject(msg.state)) {
        const mapped = mapState(msg.state, toDest);
        const emitted = new Map(
          [...counters.entries()].map(([k, c]) => [k, { records: c.recordsEmitted, bytes: c.bytesEmitted }]),
        );
        inFlight.push({ json: JSON.stringify(mapped), emitted });
        await write(JSON.stringify({ ...msg, state: mapped }));
      } else {
        handleCommon(msg, 'source');
      }
      if (Date.now() - lastPublish > 1000) {
        publish();
        lastPublish = Date.now();
      }
    }
    dst.stdin?.end();
    const [srcCode, dstCode] = await Promise.all([srcExit, dstExit]);
    await destinationDone;
    await reporting;
    ctx.signal.removeEventListener('abort', onAbort);
    publish();
    if (ctx.signal.aborted) return { status: 'failure', reason: 'cancelled' };
    if (srcCode !== 0 || dstCode !== 0 || failures.length > 0) {
      const origin =
        srcCode !== 0 || failures.some((f) => f.failureOrigin === 'source') ? 'source' : 'destination';
      if (failures.length === 0) {
        failures.push({
          failureOrigin: origin,
          failureType: 'system_error',
          externalMessage: `the ${origin} exited with code ${origin === 'source' ? srcCode : dstCode}`,
        });
      }
      return { status: 'failure', reason: String(failures[0]!.externalMessage), output: { failures } };
    }
    const totals = { recordsEmitted: 0, recordsCommitted: 0, bytesEmitted: 0, bytesCommitted: 0 };
    for (const c of counters.values()) {
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += c[k];
    }
    return { status: 'success', output: { totals } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
