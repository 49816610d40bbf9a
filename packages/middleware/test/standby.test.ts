// `cli.js --standby`: the process runtime's pre-started middleware, handed its workload on stdin.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI,
  catalogOf,
  connectionState,
  fixture,
  type MiddlewareHarness,
  outputOf,
  prepareSync,
  readJsonl,
  startHarness,
  waitFor,
} from './harness';

let mh: MiddlewareHarness;
beforeAll(async () => {
  mh = await startHarness();
});
afterAll(async () => {
  await mh?.close();
});

/** A standby as the runtime starts one: its own directory and process group, no workload env. */
async function startStandby(name: string) {
  const dir = path.join(mh.root, `.standby-${process.pid}-${name}`);
  await fsp.mkdir(dir);
  const child = spawn(process.execPath, [CLI, '--standby'], {
    cwd: dir,
    detached: true,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, dir, done };
}

describe('standby mode', () => {
  it('runs the handed workload as --workdir would, with the handed environment', async () => {
    const out = path.join(mh.root, 'standby.jsonl');
    const w = await prepareSync(mh, {
      source: {
        command: fixture('source.mjs'),
        config: { records: 12, per_slice: 4, streams: [{ name: 'a' }] },
      },
      destination: { command: fixture('destination.mjs'), config: { output_path: out } },
      catalog: catalogOf([{ name: 'a' }]),
    });
    const sb = await startStandby('run');
    // Loaded and waiting: it has not exited, and said nothing.
    await new Promise((r) => setTimeout(r, 300));
    expect(sb.child.exitCode).toBeNull();
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: w.workDir,
      SLUICE_API_URL: mh.api.server.url,
      SLUICE_DATAPLANE_TOKEN: mh.token,
      SLUICE_WORKLOAD_ID: w.id,
      LOG_LEVEL: 'warn',
    };
    sb.child.stdin.end(`${JSON.stringify({ workDir: w.workDir, argv: ['--workdir', w.workDir], env })}\n`);
    const result = await sb.done;
    expect(result.code, result.stderr).toBe(0);
    const workload = await mh.svc.get(w.id);
    expect(workload.status).toBe('success');
    expect(readJsonl(out)).toHaveLength(12);
    expect(outputOf(workload)).toMatchObject({ status: 'succeeded', recordsCommitted: 12 });
    expect((await connectionState(mh, w.fixtures.connection.id)).map((s) => s.state)).toEqual([
      { last_id: 12 },
    ]);
    // Handed a workload, it leaves its directory to the runtime.
    expect(fs.existsSync(sb.dir)).toBe(true);
  });

  it('exits 0 and removes its directory when stdin ends before a handoff', async () => {
    const sb = await startStandby('eof');
    await new Promise((r) => setTimeout(r, 300));
    expect(sb.child.exitCode).toBeNull();
    sb.child.stdin.end();
    const result = await sb.done;
    expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
    await waitFor(() => !fs.existsSync(sb.dir), 'its directory to be removed');
  });

  it('refuses a malformed handoff with exit code 3', async () => {
    const sb = await startStandby('bad');
    sb.child.stdin.end('{"workDir":"relative","argv":[],"env":{}}\n');
    const result = await sb.done;
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('invalid standby handoff');
  });
});
