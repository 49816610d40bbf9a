/**
 * The `replication` benchmark (run through `npm run bench -- replication`): source-faker →
 * destination-dev-null and → destination-local-jsonl through the platform, in stdio and socket
 * mode: the middleware CLI (built bundle) driving the real connectors from their bin/, in a
 * working directory prepared as the launcher prepares it, reporting to a real Workload API on
 * a test database. Peak RSS of each process is sampled from /proc every 100 ms.
 *
 * Flags: --records N (default 10,000,000), --sockets N (default 2), --slice N (records per state,
 * default 10,000), --destinations dev-null,local-jsonl, --modes stdio,socket, --cpu-prof DIR
 * (profiles the middleware in stdio mode), --no-build.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  catalogOf,
  connectorBin,
  type MiddlewareHarness,
  outputOf,
  PKG_DIR,
  prepareSync,
  REPO_ROOT,
  rssMb,
  startHarness,
} from '../test/harness';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : (args[i + 1] ?? fallback);
};
const records = Number(opt('records', '10000000'));
const sockets = Number(opt('sockets', '2'));
const slice = Number(opt('slice', '10000'));
const destinations = opt('destinations', 'dev-null,local-jsonl').split(',');
const modes = opt('modes', 'stdio,socket').split(',') as Array<'stdio' | 'socket'>;
const cpuProf = opt('cpu-prof', '');
/** Extra Node.js flags for the middleware process (experiments), e.g. --node-flags=--max-semi-space-size=4 */
const nodeFlags = opt('node-flags', '').split(' ').filter(Boolean);
const log = (m: string) => process.stderr.write(`${m}\n`);

if (!args.includes('--no-build')) {
  log('building the middleware bundle');
  execFileSync(
    process.execPath,
    [path.join(REPO_ROOT, 'node_modules/tsup/dist/cli-default.js'), '--silent'],
    {
      cwd: PKG_DIR,
      stdio: 'inherit',
    },
  );
}

/** Every descendant pid of a process (connectors are the middleware's children). */
function children(pid: number): number[] {
  try {
    const out = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return out ? out.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

function commandOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

interface RunResult {
  seconds: number;
  recordsPerS: number;
  peak: { middleware: number; source: number; destination: number };
  cpu: { middleware: number; source: number; destination: number };
  output: Record<string, unknown>;
}

async function runOnce(
  mh: MiddlewareHarness,
  destination: string,
  mode: 'stdio' | 'socket',
): Promise<RunResult> {
  const outDir = path.join(mh.root, `out-${destination}-${mode}`);
  const w = await prepareSync(mh, {
    source: {
      command: connectorBin('source-faker'),
      config: { count: records, seed: 42, records_per_slice: slice },
    },
    destination: {
      command: connectorBin(`destination-${destination}`),
      config: destination === 'local-jsonl' ? { destination_path: outDir } : {},
    },
    catalog: catalogOf([{ name: 'users' }], { sync: 'full_refresh', dest: 'overwrite' }),
    ...(mode === 'socket' ? { socketCount: sockets } : {}),
    middleware: { stateFlushMs: 2_000, logFlushMs: 1_000 },
  });
  const profiling = cpuProf && mode === 'stdio' && destination === 'dev-null';
  if (profiling) fs.mkdirSync(cpuProf, { recursive: true });
  const started = process.hrtime.bigint();
  const { spawn } = await import('node:child_process');
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      ...(profiling ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : []),
      path.join(PKG_DIR, 'dist/cli.js'),
      '--workdir',
      w.workDir,
    ],
    {
      cwd: w.workDir,
      detached: true,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        SLUICE_API_URL: mh.api.server.url,
        SLUICE_DATAPLANE_TOKEN: mh.token,
        SLUICE_WORKLOAD_ID: w.id,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const peak = { middleware: 0, source: 0, destination: 0 };
  // Last CPU reading of each process (a process's counters vanish when it exits).
  const cpu = { middleware: 0, source: 0, destination: 0 };
  const sampler = setInterval(() => {
    const m = rssMb(child.pid!);
    if (m !== undefined) peak.middleware = Math.max(peak.middleware, m);
    cpu.middleware = cpuSeconds(child.pid!) ?? cpu.middleware;
    for (const pid of children(child.pid!)) {
      const cmd = commandOf(pid);
      const rss = rssMb(pid) ?? 0;
      const role = cmd.includes('source-faker')
        ? 'source'
        : cmd.includes('destination-')
          ? 'destination'
          : undefined;
      if (!role) continue;
      peak[role] = Math.max(peak[role], rss);
      cpu[role] = cpuSeconds(pid) ?? cpu[role];
    }
  }, 100);
  const killOnExit = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  process.once('exit', killOnExit);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  process.off('exit', killOnExit);
  clearInterval(sampler);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const workload = await mh.svc.get(w.id);
  const output = outputOf(workload);
  if (code !== 0 || workload.status !== 'success') {
    throw new Error(
      `${destination}/${mode}: middleware exited ${code}, workload ${workload.status}: ${workload.terminationReason}`,
    );
  }
  if (output.recordsCommitted !== records) {
    throw new Error(
      `${destination}/${mode}: ${String(output.recordsCommitted)} records committed, expected ${records}`,
    );
  }
  if (destination === 'local-jsonl') fs.rmSync(outDir, { recursive: true, force: true });
  return { seconds, recordsPerS: records / seconds, peak, cpu, output };
}

const mh = await startHarness();
// An interrupted run still drops its database and kills its workloads' programs.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void mh.close().finally(() => process.exit(130));
  });
}
const results: Record<string, RunResult> = {};
try {
  for (const destination of destinations) {
    for (const mode of modes) {
      const r = await runOnce(mh, destination, mode);
      results[`${destination}/${mode}`] = r;
      log(
        `[load ${os.loadavg()[0]!.toFixed(1)}] ${destination} ${mode}${mode === 'socket' ? ` (${sockets} sockets)` : ''}: ${records} records in ${r.seconds.toFixed(2)} s = ` +
          `${Math.round(r.recordsPerS)} records/s; peak RSS middleware ${r.peak.middleware.toFixed(0)} MB, ` +
          `source ${r.peak.source.toFixed(0)} MB, destination ${r.peak.destination.toFixed(0)} MB; CPU µs/record ` +
          `middleware ${((r.cpu.middleware / records) * 1e6).toFixed(2)}, source ${((r.cpu.source / records) * 1e6).toFixed(2)}, ` +
          `destination ${((r.cpu.destination / records) * 1e6).toFixed(2)}`,
      );
    }
  }
} finally {
  await mh.close();
}

const bench = 'replication';
const emit = (metric: string, value: number, unit: string) =>
  console.log(JSON.stringify({ bench, metric, value, unit }));
const stdio = results['dev-null/stdio'];
const socket = results['dev-null/socket'];
emit('records', records, 'records');
if (stdio) emit('stdio_records_per_s', Math.round(stdio.recordsPerS), 'records/s');
if (socket) emit('socket_records_per_s', Math.round(socket.recordsPerS), 'records/s');
if (stdio && socket)
  emit('socket_vs_stdio', Number((socket.recordsPerS / stdio.recordsPerS).toFixed(2)), 'x');
// Wall-clock figures depend on what else runs on the machine; CPU time per record does not
// much. `*_cpu_bound_records_per_s` is what 2 otherwise idle cores could carry at that cost.
const cpuPerRecord = (r: RunResult) =>
  ((r.cpu.middleware + r.cpu.source + r.cpu.destination) / records) * 1e6;
for (const [name, r] of [
  ['stdio', stdio],
  ['socket', socket],
] as const) {
  if (!r) continue;
  emit(`${name}_middleware_cpu_us_per_record`, Number(((r.cpu.middleware / records) * 1e6).toFixed(2)), 'µs');
  emit(`${name}_total_cpu_us_per_record`, Number(cpuPerRecord(r).toFixed(2)), 'µs');
  emit(`${name}_cpu_bound_records_per_s`, Math.round(2e6 / cpuPerRecord(r)), 'records/s');
}
emit('load_average_1m', Number(os.loadavg()[0]!.toFixed(1)), 'load');
if (stdio) {
  emit('middleware_peak_rss_mb', Math.round(stdio.peak.middleware), 'MB');
  emit('stdio_source_peak_rss_mb', Math.round(stdio.peak.source), 'MB');
  emit('stdio_destination_peak_rss_mb', Math.round(stdio.peak.destination), 'MB');
}
if (socket) {
  emit('socket_middleware_peak_rss_mb', Math.round(socket.peak.middleware), 'MB');
  emit('socket_source_peak_rss_mb', Math.round(socket.peak.source), 'MB');
  emit('socket_destination_peak_rss_mb', Math.round(socket.peak.destination), 'MB');
}
const ls = results['local-jsonl/stdio'];
const lsock = results['local-jsonl/socket'];
if (ls) emit('local_jsonl_stdio_records_per_s', Math.round(ls.recordsPerS), 'records/s');
if (lsock) emit('local_jsonl_socket_records_per_s', Math.round(lsock.recordsPerS), 'records/s');
if (ls) emit('local_jsonl_stdio_middleware_peak_rss_mb', Math.round(ls.peak.middleware), 'MB');
