import fsp from 'node:fs/promises';
import path from 'node:path';
import { createLogger, type Logger } from '@sluice/shared';
import * as z from 'zod';
import { parseLaunchPlan } from '../plan';
import { buildProgramEnv } from '../program-env';
import {
  type LaunchPlan,
  type LaunchResult,
  type StopOptions,
  WorkloadId,
  type WorkloadRuntime,
} from '../types';
import { spawnDetached } from './detached';
import { type ProcStat, processGroupMembers, readProcStat } from './proc';
import { type StandbyOptions, StandbyPool } from './standby-pool';

export const PID_FILE = 'middleware.pid';
export const MIDDLEWARE_STDOUT_LOG = 'middleware.stdout.log';
export const MIDDLEWARE_STDERR_LOG = 'middleware.stderr.log';

/**
 * `middleware.pid`: written with `launching` before the spawn (O_EXCL, so two launches cannot
 * both start the workload), then replaced atomically by the running record.
 */
export const PidRecord = z.object({
  workloadId: WorkloadId,
  workDir: z.string(),
  /** Absent while launching. */
  pid: z.number().int().positive().optional(),
  /** The middleware leads its own process group: pgid === pid. */
  pgid: z.number().int().positive().optional(),
  /** `/proc/<pid>/stat` start time; `exited` when the middleware ended before it could be read. */
  startTime: z.string().optional(),
  launchedAt: z.string(),
});
export type PidRecord = z.infer<typeof PidRecord>;

export interface ProcessRuntimeOptions {
  /** Directory holding one working directory per workload; a plan's workDir must be a child of it. */
  workloadsRoot: string;
  logger?: Logger;
  /** Default grace between SIGTERM and SIGKILL in `stop`. */
  graceMs?: number;
  /** Middleware processes started ahead of need (see `StandbyPool`); none by default. */
  standby?: StandbyOptions;
}

const POLL_MS = 50;
const KILL_WAIT_MS = 5_000;

/**
 * Runs a workload's middleware as a detached local process (own process group, stdio to log
 * files in the working directory); the middleware spawns the connectors with `spawnConnector`.
 * State lives only in pid files, so a restarted launcher finds, stops and sweeps what an
 * earlier one started. With `standby`, a launch hands the workload to an already started
 * middleware when it can, and spawns one otherwise; both end up alike (pid file, process group,
 * log files, environment).
 */
export class ProcessRuntime implements WorkloadRuntime {
  readonly name = 'process' as const;
  private readonly root: string;
  private readonly log: Logger;
  private readonly graceMs: number;
  private readonly standby: StandbyPool | undefined;

  constructor(opts: ProcessRuntimeOptions) {
    this.root = path.resolve(opts.workloadsRoot);
    this.log = opts.logger ?? createLogger('launcher.process-runtime');
    this.graceMs = opts.graceMs ?? 10_000;
    this.standby =
      opts.standby && (opts.standby.count ?? 1) > 0
        ? new StandbyPool({ ...opts.standby, root: this.root, logger: this.log })
        : undefined;
  }

  /** Starts the standby middleware processes, if configured, without waiting for them. */
  warm(): void {
    this.standby?.fill();
  }

  /** Stops the standby middleware processes; workloads keep running. */
  async close(): Promise<void> {
    await this.standby?.close();
  }

  /** Pids of the standby middleware processes ready for a workload. */
  standbyPids(): number[] {
    return this.standby?.pids() ?? [];
  }

  async launch(input: LaunchPlan): Promise<LaunchResult> {
    const plan = parseLaunchPlan(input);
    const workDir = path.resolve(plan.workDir);
    if (path.dirname(workDir) !== this.root) {
      throw new Error(`workDir ${workDir} must be a direct child of the workloads root ${this.root}`);
    }
    const [cmd, ...prefix] = plan.middleware.command ?? [];
    if (!cmd)
      throw new Error(`workload ${plan.workloadId}: the middleware has no command for the process runtime`);
    if (!(await fsp.stat(workDir).catch(() => undefined))?.isDirectory()) {
      throw new Error(`working directory ${workDir} does not exist; the launcher prepares it before launch`);
    }

    const pidPath = path.join(workDir, PID_FILE);
    const launching: PidRecord = {
      workloadId: plan.workloadId,
      workDir,
      launchedAt: new Date().toISOString(),
    };
    try {
      await fsp.writeFile(pidPath, JSON.stringify(launching), { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Running or ended, a launched workload is never started twice (invariant 3).
      this.log.info({ workloadId: plan.workloadId }, 'workload already launched; not starting it again');
      return { started: false };
    }

    let pid: number | undefined;
    try {
      const env = buildProgramEnv(plan.middleware.env, { home: workDir });
      const logs = {
        stdout: path.join(workDir, MIDDLEWARE_STDOUT_LOG),
        stderr: path.join(workDir, MIDDLEWARE_STDERR_LOG),
      };
      const handed =
        this.standby && sameArgv(this.standby.command, plan.middleware.command!)
          ? await this.standby.handOff({ workDir, argv: plan.middleware.args, env }, logs)
          : undefined;
      let startTime: string;
      if (handed) {
        ({ pid, startTime } = handed);
      } else {
        const child = await spawnDetached([cmd, ...prefix, ...plan.middleware.args], {
          cwd: workDir,
          env,
          ...logs,
          stdin: 'ignore',
        });
        pid = child.pid!;
        startTime = (await readProcStat(pid))?.startTime ?? 'exited';
      }
      const record: PidRecord = { ...launching, pid, pgid: pid, startTime };
      const tmp = `${pidPath}.${process.pid}.tmp`;
      await fsp.writeFile(tmp, JSON.stringify(record));
      await fsp.rename(tmp, pidPath);
      this.log.info(
        { workloadId: plan.workloadId, middlewarePid: pid, ...(handed ? { standby: true } : {}) },
        'middleware started',
      );
      return handed ? { started: true, standby: true } : { started: true };
    } catch (e) {
      if (pid) {
        // Started but not recorded: nothing could find it to stop it later.
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await fsp.rm(pidPath, { force: true });
      throw new Error(
        `cannot start the middleware of workload ${plan.workloadId} (${cmd}): ${(e as Error).message}`,
      );
    }
  }

  async isRunning(workloadId: string): Promise<boolean> {
    const found = await this.find(workloadId);
    return found?.record ? (await this.liveMembers(found.record)).length > 0 : false;
  }

  async stop(workloadId: string, opts: StopOptions = {}): Promise<void> {
    const found = await this.find(workloadId);
    if (!found) return;
    if (found.record) await this.killGroup(found.record, opts.graceMs ?? this.graceMs);
    if (!opts.keepWorkDir) await fsp.rm(found.dir, { recursive: true, force: true });
    this.log.info({ workloadId }, 'workload stopped');
  }

  async list(): Promise<string[]> {
    const ids: string[] = [];
    for (const dir of await this.workDirs()) {
      const record = await readPidRecord(dir);
      if (record) ids.push(record.workloadId);
    }
    return ids.sort();
  }

  async sweep(activeWorkloadIds: Iterable<string>, opts: StopOptions = {}): Promise<string[]> {
    const active = new Set(activeWorkloadIds);
    const removed: string[] = [];
    for (const id of await this.list()) {
      if (active.has(id)) continue;
      await this.stop(id, opts);
      removed.push(id);
    }
    return removed;
  }

  /** The middleware's process group, if it still belongs to this workload. */
  private async liveMembers(record: PidRecord): Promise<ProcStat[]> {
    if (!record.pgid || !record.startTime) return [];
    // While any member of our group lives, the kernel does not reuse the group's id as a pid; so a
    // live leader with another start time means our group is gone and the id was recycled.
    const leader = await readProcStat(record.pgid);
    if (leader && leader.startTime !== record.startTime) return [];
    return processGroupMembers(record.pgid);
  }

  private async killGroup(record: PidRecord, graceMs: number): Promise<void> {
    const pgid = record.pgid;
    if (!pgid || (await this.liveMembers(record)).length === 0) return;
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-pgid, sig);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    };
    const waitGone = async (ms: number) => {
      const deadline = Date.now() + ms;
      for (;;) {
        if ((await this.liveMembers(record)).length === 0) return true;
        if (Date.now() >= deadline) return false;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    };
    signalGroup('SIGTERM');
    if (await waitGone(graceMs)) return;
    this.log.warn({ workloadId: record.workloadId, pgid }, 'workload ignored SIGTERM; killing it');
    signalGroup('SIGKILL');
    if (!(await waitGone(KILL_WAIT_MS))) {
      throw new Error(`processes of workload ${record.workloadId} (group ${pgid}) survived SIGKILL`);
    }
  }

  private async find(workloadId: string): Promise<{ dir: string; record?: PidRecord } | undefined> {
    const direct = path.join(this.root, workloadId);
    if (WorkloadId.safeParse(workloadId).success) {
      const record = await readPidRecord(direct);
      if (record?.workloadId === workloadId) return { dir: direct, record };
    }
    for (const dir of await this.workDirs()) {
      const record = await readPidRecord(dir);
      if (record?.workloadId === workloadId) return { dir, record };
    }
    return undefined;
  }

  private async workDirs(): Promise<string[]> {
    const entries = await fsp.readdir(this.root, { withFileTypes: true }).catch((e) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    });
    return entries.filter((e) => e.isDirectory()).map((e) => path.join(this.root, e.name));
  }
}

function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function readPidRecord(dir: string): Promise<PidRecord | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(dir, PID_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    return PidRecord.parse(JSON.parse(text));
  } catch {
    return undefined;
  }
}
