// The FIFO protocol between a containerised connector and the middleware, exercised with the
// real wrapper script run by the host's /bin/sh (no engine needed): the same script runs as
// PID 1 of every connector container.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_CONNECTOR_JS, waitFor } from '../test-support';
import type { ConnectorProgram, ConnectorRole, ConnectorStdio } from '../types';
import { CONNECTOR_WRAPPER } from './container-spec';
import { attachFifoConnector, ConnectorLostError, ConnectorStartTimeoutError } from './fifo';
import { createWorkloadPipes } from './pipes';

let root: string;
let n = 0;
const children: ChildProcess[] = [];

beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-fifo-'));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

function program(role: ConnectorRole, stdin: boolean): ConnectorProgram {
  return { role, stdin, args: [], env: {}, network: 'none', image: 'unused' };
}

/** A working directory with pipes for one connector, as the docker runtime prepares it. */
async function workDirFor(role: ConnectorRole, stdin: boolean, config: Record<string, unknown> = {}) {
  const workDir = path.join(root, `wl-${++n}`);
  await fsp.mkdir(workDir);
  await fsp.writeFile(path.join(workDir, 'config.json'), JSON.stringify(config));
  await createWorkloadPipes(workDir, [program(role, stdin)]);
  return workDir;
}

/** Runs the container wrapper around the fixture connector, as a container's PID 1 would. */
function runWrapped(workDir: string, role: ConnectorRole, stdin: boolean, argv: string[]): ChildProcess {
  const child = spawn(
    '/bin/sh',
    ['-c', CONNECTOR_WRAPPER, 'wrapper', path.join(workDir, 'pipes'), role, stdin ? '1' : '0', ...argv],
    { cwd: workDir, stdio: 'ignore' },
  );
  children.push(child);
  return child;
}

const fixture = (...args: string[]) => [
  process.execPath,
  FIXTURE_CONNECTOR_JS,
  ...args,
  '--config',
  'config.json',
];

async function collect(io: ConnectorStdio) {
  let stderr = '';
  io.stderr.on('data', (d) => {
    stderr += d;
  });
  const lines: string[] = [];
  for await (const line of readline.createInterface({ input: io.stdout })) lines.push(line);
  return { lines, stderr, code: await io.exit };
}

describe('attachFifoConnector', () => {
  it('reads a connector through its pipes and gets its exit code, whoever opens first', async () => {
    // Middleware first: the connector starts later.
    const a = await workDirFor('source', false, { count: 20_000 });
    const ioA = attachFifoConnector(a, 'source', { pollMs: 20 });
    await new Promise((r) => setTimeout(r, 200));
    runWrapped(a, 'source', false, fixture('read'));
    const resA = await collect(ioA);
    expect(resA.lines.filter((l) => l.includes('"RECORD"'))).toHaveLength(20_000);
    expect(resA.lines.at(-1)).toContain('"STATE"');
    expect(resA.stderr).toContain('reading 20000 records');
    expect(resA.code).toBe(0);
    expect(fs.readFileSync(path.join(a, 'pipes/source.exit'), 'utf8').trim()).toBe('0');

    // Connector first: it waits on its pipes until the middleware attaches.
    const b = await workDirFor('source', false, { count: 3 });
    runWrapped(b, 'source', false, fixture('read'));
    await waitFor(() => fs.existsSync(path.join(b, 'pipes/source.started')) || undefined, 'started marker');
    await new Promise((r) => setTimeout(r, 200));
    const resB = await collect(attachFifoConnector(b, 'source', { pollMs: 20 }));
    expect(resB.lines.filter((l) => l.includes('"RECORD"'))).toHaveLength(3);
    expect(resB.code).toBe(0);
  });

  it('writes a connector stdin through its pipe, with backpressure, and closes it', async () => {
    const dir = await workDirFor('destination', true);
    const io = attachFifoConnector(dir, 'destination', { stdin: true, pollMs: 20 });
    // Written before the connector exists: buffered until it opens its stdin.
    const total = 50_000;
    const writing = (async () => {
      for (let i = 0; i < total; i++) {
        const line = `${JSON.stringify({ type: 'RECORD', record: { stream: 's', data: { i }, emitted_at: 0 } })}\n`;
        if (!io.stdin!.write(line)) await new Promise((r) => io.stdin!.once('drain', r));
      }
      io.stdin!.end(`${JSON.stringify({ type: 'STATE', state: { data: { i: total } } })}\n`);
    })();
    await new Promise((r) => setTimeout(r, 150));
    runWrapped(dir, 'destination', true, fixture('write'));
    const res = await collect(io);
    await writing;
    expect(res.lines.some((l) => l.includes(`received ${total} records`))).toBe(true);
    expect(res.lines.some((l) => l.includes('"STATE"'))).toBe(true);
    expect(res.code).toBe(0);
  });

  it('reports a connector that fails before any output', async () => {
    const dir = await workDirFor('source', false, { exitCode: 3 });
    runWrapped(dir, 'source', false, fixture('read'));
    const res = await collect(attachFifoConnector(dir, 'source', { pollMs: 20 }));
    expect(res.lines).toEqual([]);
    expect(res.stderr).toContain('failing on purpose');
    expect(res.code).toBe(3);

    const missing = await workDirFor('source', false);
    runWrapped(missing, 'source', false, ['/nonexistent/connector']);
    expect((await collect(attachFifoConnector(missing, 'source', { pollMs: 20 }))).code).toBe(127);
  });

  it('forwards SIGTERM (docker stop) to the connector and records 143', async () => {
    const dir = await workDirFor('source', false, { count: 1, sleepMs: 60_000 });
    const wrapper = runWrapped(dir, 'source', false, fixture('read'));
    const io = attachFifoConnector(dir, 'source', { pollMs: 20 });
    io.stderr.resume();
    const emitted = new Promise((r) => io.stdout.once('data', r));
    io.stdout.resume();
    await waitFor(() => fs.existsSync(path.join(dir, 'pipes/source.started')) || undefined, 'started marker');
    // Node started and emitted (the marker comes before the wrapper's trap is set): not a fixed wait.
    await emitted;
    const wrapperExit = new Promise((r) => wrapper.once('exit', r));
    wrapper.kill('SIGTERM');
    expect(await io.exit).toBe(143);
    await wrapperExit;
    expect(wrapper.exitCode).toBe(143);
  });

  it('detects a connector that never starts, and one killed without an exit code', async () => {
    const never = await workDirFor('source', false);
    const t0 = Date.now();
    const io = attachFifoConnector(never, 'source', { startTimeoutMs: 300, pollMs: 20 });
    await expect(io.exit).rejects.toBeInstanceOf(ConnectorStartTimeoutError);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(io.stdout.destroyed).toBe(true);

    const killed = await workDirFor('source', false, { count: 1, sleepMs: 60_000 });
    // The whole container dies at once (SIGKILL to wrapper and connector): nobody writes an exit code.
    const wrapper = spawn(
      '/bin/sh',
      ['-c', `${CONNECTOR_WRAPPER}`, 'w', path.join(killed, 'pipes'), 'source', '0', ...fixture('read')],
      { cwd: killed, stdio: 'ignore', detached: true },
    );
    children.push(wrapper);
    const io2 = attachFifoConnector(killed, 'source', { pollMs: 20, exitGraceMs: 300 });
    io2.stderr.resume();
    const firstLine = new Promise((r) => io2.stdout.once('data', r));
    await firstLine;
    io2.stdout.resume();
    process.kill(-wrapper.pid!, 'SIGKILL');
    await expect(io2.exit).rejects.toBeInstanceOf(ConnectorLostError);
  });

  it('can be cancelled, and fails clearly when the pipes do not exist', async () => {
    const dir = await workDirFor('source', false);
    const ac = new AbortController();
    const io = attachFifoConnector(dir, 'source', { signal: ac.signal, pollMs: 20 });
    ac.abort(new Error('sync cancelled'));
    await expect(io.exit).rejects.toThrow('sync cancelled');

    expect(() => attachFifoConnector(path.join(root, 'nowhere'), 'source')).toThrow(
      /named pipe .* does not exist/,
    );
  });

  it('never blocks the thread pool, however many pipes wait for their connector', async () => {
    const attached: ConnectorStdio[] = [];
    const ac = new AbortController();
    for (let i = 0; i < 6; i++) {
      const dir = await workDirFor('destination', true);
      attached.push(attachFifoConnector(dir, 'destination', { stdin: true, signal: ac.signal }));
    }
    // 12 read ends and 6 write ends wait for connectors that never come; fs still answers at once.
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 8 }, () => fsp.readFile(FIXTURE_CONNECTOR_JS)));
    expect(Date.now() - t0).toBeLessThan(1_000);
    ac.abort();
    for (const io of attached) await expect(io.exit).rejects.toThrow();
  });
});
