import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'node_modules', '.cache', 'sluice-worker-test');

// Workspace packages are TypeScript sources: bundle them (as vitest reads them); leave every
// other package to Node, resolved from the bundle's place under apps/worker.
const workspaceOnly: Plugin = {
  name: 'workspace-only',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@sluice/') ? undefined : { path: args.path, external: true },
    );
  },
};

let built: Promise<string> | null = null;

/**
 * The worker fixture bundled into one file, once per test process: a worker process then
 * starts in well under a second instead of transpiling every workspace source on each spawn,
 * which matters when tests kill and replace workers every few hundred milliseconds.
 */
function fixtureBundle(): Promise<string> {
  built ??= (async () => {
    mkdirSync(outDir, { recursive: true });
    const outfile = join(outDir, `worker-proc-${process.pid}.mjs`);
    await build({
      entryPoints: [join(here, 'fixtures', 'worker-proc.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['sluice-source'],
      plugins: [workspaceOnly],
      outfile,
      logLevel: 'silent',
    });
    return outfile;
  })();
  return built;
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  lines: string[];
  ready: Promise<void>;
  exited: Promise<number | null>;
  stderr: () => string;
  isReady: () => boolean;
}

/** Runs test/fixtures/worker-proc.ts in its own Node process. Call `prepareWorkerProcs` first. */
export function spawnWorker(config: Record<string, unknown>): Proc {
  if (!bundlePath) throw new Error('call prepareWorkerProcs() in beforeAll first');
  const child = spawn(process.execPath, [bundlePath, JSON.stringify(config)], {
    cwd: join(here, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let err = '';
  let buf = '';
  let readyFlag = false;
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      if (line.startsWith('ready')) {
        readyFlag = true;
        onReady();
      }
      nl = buf.indexOf('\n');
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, pid: child.pid!, lines, ready, exited, stderr: () => err, isReady: () => readyFlag };
}

let bundlePath: string | null = null;

export async function prepareWorkerProcs(): Promise<void> {
  bundlePath = await fixtureBundle();
}

export async function killAll(procs: Iterable<Proc>): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      waits.push(p.exited);
    }
  }
  await Promise.all(waits);
}

/** Removes this test process's bundle. */
export function cleanupWorkerProcs(): void {
  if (bundlePath) rmSync(bundlePath, { force: true });
  bundlePath = null;
  built = null;
}
