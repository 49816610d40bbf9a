/**
 * The middleware's side of a standby handoff (process runtime): a middleware started with
 * `--standby` loads itself, then waits for one JSON line on its stdin naming its workload. The
 * runtime's side is `StandbyPool`. Node.js only, so the middleware can bundle it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';

/** The argument that starts a middleware as a standby instead of with `--workdir DIR`. */
export const STANDBY_FLAG = '--standby';
/** A standby's directory in the workloads root. A workload id never starts with a dot, so the
 * two cannot collide, and pid-file scans (`list`, `sweep`) find no pid file there. */
export const STANDBY_DIR_PREFIX = '.standby-';
/** A standby's stdout and stderr in its directory; at handoff the runtime links them into the
 * working directory as the middleware's logs. */
export const STANDBY_STDOUT_LOG = 'standby.stdout.log';
export const STANDBY_STDERR_LOG = 'standby.stderr.log';

/** What a standby is handed: what a freshly spawned middleware would have had. */
export interface StandbyHandoff {
  /** The working directory: the middleware's cwd from now on. */
  workDir: string;
  /** The arguments after the script, e.g. `["--workdir", "/…/w-1"]`. */
  argv: string[];
  /** The whole environment, replacing the standby's (which holds no secret). */
  env: Record<string, string>;
}

// The handoff is a few hundred bytes; anything this large is not one.
const MAX_HANDOFF_BYTES = 1 << 20;

function parseHandoff(text: string): StandbyHandoff {
  const v = JSON.parse(text) as Partial<StandbyHandoff> | null;
  const strings = (o: unknown) =>
    !!o && typeof o === 'object' && Object.values(o).every((x) => typeof x === 'string');
  if (
    !v ||
    typeof v.workDir !== 'string' ||
    !path.isAbsolute(v.workDir) ||
    !Array.isArray(v.argv) ||
    !strings(v.argv) ||
    Array.isArray(v.env) ||
    !strings(v.env)
  ) {
    throw new Error('expected {"workDir": absolute path, "argv": [strings], "env": {strings}}');
  }
  return { workDir: v.workDir, argv: v.argv, env: v.env as Record<string, string> };
}

/**
 * Waits for the handoff line. Undefined when the input ends first: the launcher that started
 * this standby stopped it or died, and a standby must not outlive its launcher.
 */
export function awaitStandbyHandoff(input: Readable = process.stdin): Promise<StandbyHandoff | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      input.removeAllListeners('data');
      // Nothing more comes this way; the fd would only keep the event loop alive.
      input.destroy();
      fn();
    };
    input.on('data', (chunk: Buffer) => {
      const nl = chunk.indexOf(10);
      chunks.push(nl < 0 ? chunk : chunk.subarray(0, nl));
      size += chunk.length;
      if (nl < 0) {
        if (size > MAX_HANDOFF_BYTES) settle(() => reject(new Error('the standby handoff is too long')));
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      settle(() => {
        try {
          resolve(parseHandoff(text));
        } catch (err) {
          reject(new Error(`invalid standby handoff: ${(err as Error).message}`));
        }
      });
    });
    input.once('end', () => settle(() => resolve(undefined)));
    input.once('error', () => settle(() => resolve(undefined)));
  });
}

/**
 * Makes this process what a fresh spawn of the handed command line would be: its cwd, its whole
 * environment and its argv. Returns the arguments to run with.
 */
export function becomeHandedWorkload(h: StandbyHandoff): string[] {
  process.chdir(h.workDir);
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, h.env);
  process.argv.splice(2, process.argv.length - 2, ...h.argv);
  return h.argv;
}

/**
 * A standby that ends unused removes its directory (its two log files, then the directory,
 * only if empty): its launcher may be gone and nobody else would.
 */
export function removeStandbyDir(): void {
  let dir: string;
  try {
    dir = process.cwd();
  } catch {
    return; // removed already
  }
  if (!path.basename(dir).startsWith(STANDBY_DIR_PREFIX)) return;
  for (const name of [STANDBY_STDOUT_LOG, STANDBY_STDERR_LOG])
    fs.rmSync(path.join(dir, name), { force: true });
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty (someone else's files) or gone: left alone
  }
}
