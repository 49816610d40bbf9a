import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@sluice/shared';
import { buildProgramEnv } from '../program-env';
import { spawnDetached } from './detached';
import { readProcStat } from './proc';
import {
  STANDBY_DIR_PREFIX,
  STANDBY_FLAG,
  STANDBY_STDERR_LOG,
  STANDBY_STDOUT_LOG,
  type StandbyHandoff,
} from './standby-handoff';

export interface StandbyOptions {
  /** The middleware's argv prefix. Only plans with exactly this command get a standby. */
  command: string[];
  /** Standby processes kept ready. Default 1; 0 disables. */
  count?: number;
}

interface Standby {
  child: ChildProcess;
  pid: number;
  startTime: string | undefined;
  dir: string;
  /** The middleware's files when it started: a rebuilt middleware must not run old code. */
  fingerprint: string;
  exited: boolean;
  exit: Promise<void>;
  /** Handed a workload, or being retired: its exit is not a failure. */
  gone: boolean;
}

// Read once by Node.js or its libraries at start-up: a standby started without the plan's value
// would ignore it, so such a plan gets a fresh process.
const STARTUP_ENV = /^(NODE_|UV_|OPENSSL_|SSL_CERT_|LC_)|^(LANG|LANGUAGE|TZ)$/;
const RETIRE_WAIT_MS = 2_000;
const MAX_BACKOFF_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Middleware processes started ahead of need (`node … cli.js --standby`), so that launching a
 * workload does not wait for Node.js to boot and load the middleware. A standby starts detached
 * in its own process group, with the minimal environment and no secret, stdout and stderr to files
 * in `<root>/.standby-<launcher pid>-<random>/`, and stdin a pipe from this process. At launch
 * its two log files are hard-linked into the working directory under the names a fresh spawn
 * writes (same inodes, so its fd 1 and 2 need no redirection), then the handoff line goes down
 * the pipe; the standby moves to the working directory, takes the handed environment and runs
 * exactly what `--workdir DIR` runs. The pipe's end before a handoff (stopped or dead launcher)
 * makes an unused standby remove its directory and exit.
 */
export class StandbyPool {
  readonly command: readonly string[];
  private readonly count: number;
  private readonly root: string;
  private readonly log: Logger;
  private readonly ready: Standby[] = [];
  private readonly spawning = new Set<Promise<void>>();
  private readonly retiring = new Set<Promise<void>>();
  private closed = false;
  private failures = 0;
  private retryAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private swept = false;

  constructor(opts: StandbyOptions & { root: string; logger: Logger }) {
    this.command = [...opts.command];
    this.count = opts.count ?? 1;
    this.root = opts.root;
    this.log = opts.logger;
  }

  /** Pids of the standbys ready for a handoff. */
  pids(): number[] {
    return this.ready.map((s) => s.pid);
  }

  /** Starts standbys up to the count, in the background. */
  fill(): void {
    if (this.closed || this.count <= 0) return;
    if (Date.now() < this.retryAt) {
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        this.fill();
      }, this.retryAt - Date.now()).unref();
      return;
    }
    while (this.ready.length + this.spawning.size < this.count) {
      const p: Promise<void> = this.spawnOne()
        .catch((err: Error) => this.failed(`cannot start a standby middleware: ${err.message}`))
        .finally(() => this.spawning.delete(p));
      this.spawning.add(p);
    }
  }

  /**
   * Hands a workload to a ready standby whose stdout and stderr become `logs`. Undefined when
   * none can take it (none ready, an environment a standby cannot take, a rebuilt middleware, a
   * standby that died): the caller spawns the middleware itself. Never throws.
   */
  async handOff(
    handoff: StandbyHandoff,
    logs: { stdout: string; stderr: string },
  ): Promise<{ pid: number; startTime: string } | undefined> {
    if (this.closed || this.count <= 0) return undefined;
    const template = buildProgramEnv({}, { home: handoff.workDir });
    for (const key of new Set([...Object.keys(template), ...Object.keys(handoff.env)])) {
      if (template[key] !== handoff.env[key] && STARTUP_ENV.test(key)) return undefined;
    }
    let next = this.ready.shift();
    while (next?.exited) next = this.ready.shift();
    if (!next) {
      this.fill();
      return undefined;
    }
    const s = next;
    if (s.fingerprint !== this.fingerprint()) {
      this.log.info(
        { pid: s.pid },
        'the middleware changed since its standby started; replacing the standby',
      );
      this.retire(s);
      this.fill();
      return undefined;
    }
    s.gone = true;
    const linked: string[] = [];
    try {
      await fsp.link(path.join(s.dir, STANDBY_STDOUT_LOG), logs.stdout);
      linked.push(logs.stdout);
      await fsp.link(path.join(s.dir, STANDBY_STDERR_LOG), logs.stderr);
      linked.push(logs.stderr);
      const st = await readProcStat(s.pid);
      if (s.exited || !st || st.startTime !== s.startTime) throw new Error('the standby is gone');
      const stdin = s.child.stdin!;
      await new Promise<void>((resolve, reject) =>
        stdin.write(`${JSON.stringify(handoff)}\n`, (err) => (err ? reject(err) : resolve())),
      );
      // The line is in the pipe; closing our end leaves it readable, and holds no fd per workload.
      stdin.destroy();
    } catch (err) {
      this.log.warn({ pid: s.pid, err: (err as Error).message }, 'standby handoff failed; spawning instead');
      await Promise.all(linked.map((f) => fsp.rm(f, { force: true })));
      this.retire(s);
      this.fill();
      return undefined;
    }
    this.failures = 0;
    // Its directory's last names for the logs; the workload's names stay.
    void Promise.all([STANDBY_STDOUT_LOG, STANDBY_STDERR_LOG].map((f) => fsp.rm(path.join(s.dir, f))))
      .then(() => fsp.rmdir(s.dir))
      .catch(() => {});
    this.fill();
    return { pid: s.pid, startTime: s.startTime! };
  }

  /** Stops every standby (a launcher's shutdown); handed-off workloads are not touched. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await Promise.allSettled([...this.spawning]);
    for (const s of this.ready.splice(0)) this.retire(s);
    await Promise.allSettled([...this.retiring]);
  }

  private async spawnOne(): Promise<void> {
    if (!this.swept) {
      this.swept = true;
      await this.removeOrphans();
    }
    const dir = path.join(this.root, `${STANDBY_DIR_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
    await fsp.mkdir(dir, { mode: 0o700 });
    const fingerprint = this.fingerprint();
    let child: ChildProcess;
    try {
      child = await spawnDetached([...this.command, STANDBY_FLAG], {
        cwd: dir,
        // Nothing of the workload yet: its token and id come with the handoff.
        env: buildProgramEnv({}, { home: dir }),
        stdout: path.join(dir, STANDBY_STDOUT_LOG),
        stderr: path.join(dir, STANDBY_STDERR_LOG),
        stdin: 'pipe',
      });
    } catch (e) {
      await fsp.rm(dir, { recursive: true, force: true });
      throw e;
    }
    const s: Standby = {
      child,
      pid: 0,
      startTime: undefined,
      dir,
      fingerprint,
      exited: false,
      exit: new Promise((resolve) => child.once('exit', () => resolve())),
      gone: false,
    };
    child.once('exit', (code, signal) => {
      s.exited = true;
      const i = this.ready.indexOf(s);
      if (i >= 0) this.ready.splice(i, 1);
      if (s.gone || this.closed) return;
      void fsp.rm(dir, { recursive: true, force: true }).catch(() => {});
      this.failed(`a standby middleware exited before it was used (code ${code}, signal ${signal})`);
    });
    child.stdin!.on('error', () => {});
    // Its pipe must not hold this process open either (spawnDetached unrefs the process).
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    s.pid = child.pid!;
    s.startTime = (await readProcStat(s.pid))?.startTime;
    if (s.exited) return;
    if (!s.startTime || this.closed) {
      this.retire(s);
      return;
    }
    this.ready.push(s);
    this.log.debug({ pid: s.pid }, 'standby middleware started');
  }

  /** Ends a standby not handed anything: EOF first (it cleans up after itself), then SIGKILL. */
  private retire(s: Standby): void {
    s.gone = true;
    const p = (async () => {
      s.child.stdin?.destroy();
      await Promise.race([s.exit, sleep(RETIRE_WAIT_MS)]);
      if (!s.exited && (await readProcStat(s.pid))?.startTime === s.startTime) {
        try {
          process.kill(-s.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
        await Promise.race([s.exit, sleep(RETIRE_WAIT_MS)]);
      }
      await fsp.rm(s.dir, { recursive: true, force: true });
    })()
      .catch(() => {})
      .finally(() => this.retiring.delete(p));
    this.retiring.add(p);
  }

  private failed(message: string): void {
    if (this.closed) return;
    this.failures++;
    // A middleware that cannot start as a standby (an old build, a crash) is not respawned in a
    // loop; launches spawn it fresh meanwhile.
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.failures - 1));
    this.retryAt = Date.now() + delay;
    this.log.warn({ failures: this.failures, retryInMs: delay }, message);
    this.fill();
  }

  private fingerprint(): string {
    return this.command
      .filter((a) => path.isAbsolute(a))
      .map((a) => {
        const st = fs.statSync(a, { throwIfNoEntry: false });
        return st ? `${a}:${st.ino}:${st.size}:${st.mtimeMs}` : `${a}:-`;
      })
      .join('|');
  }

  /** Directories of standbys whose launcher died before they could remove them. */
  private async removeOrphans(): Promise<void> {
    const entries = await fsp.readdir(this.root).catch(() => [] as string[]);
    for (const name of entries) {
      if (!name.startsWith(STANDBY_DIR_PREFIX)) continue;
      const m = /^(\d+)-/.exec(name.slice(STANDBY_DIR_PREFIX.length));
      if (!m || Number(m[1]) === process.pid || (await readProcStat(Number(m[1])))) continue;
      await fsp.rm(path.join(this.root, name), { recursive: true, force: true }).catch(() => {});
    }
  }
}
