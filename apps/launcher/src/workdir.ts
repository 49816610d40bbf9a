import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { buildProgramEnv, type LaunchPlan } from '@sluice/runtime';
import type { WorkloadLayout } from './layout';

/** The workloads root; created 0700 so no other user of the host can enter a working directory. */
export async function ensureWorkloadsRoot(root: string): Promise<string> {
  const abs = path.resolve(root);
  await fsp.mkdir(abs, { recursive: true, mode: 0o700 });
  return abs;
}

export function workDirOf(root: string, workloadId: string): string {
  return path.join(path.resolve(root), workloadId);
}

/**
 * Writes a layout from scratch (a half-prepared directory of an earlier try is replaced). Modes
 * are set explicitly, the umask notwithstanding; files go through a temporary name so a reader
 * never sees one half written.
 */
export async function writeWorkDir(layout: WorkloadLayout): Promise<void> {
  const dir = layout.workDir;
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { mode: layout.workDirMode });
  await fsp.chmod(dir, layout.workDirMode);
  for (const d of layout.dirs) {
    const p = path.join(dir, d.path);
    await fsp.mkdir(p, { recursive: true, mode: d.mode });
    await fsp.chmod(p, d.mode);
  }
  for (const f of layout.files) {
    const p = path.join(dir, f.path);
    const tmp = `${p}.tmp`;
    await fsp.writeFile(tmp, f.content, { mode: f.mode });
    await fsp.chmod(tmp, f.mode);
    await fsp.rename(tmp, p);
  }
}

function isExecutableFile(p: string): boolean {
  try {
    const st = fs.statSync(p);
    if (!st.isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where `cmd` resolves on a PATH, as execvp would find it; undefined when it does not. */
export function resolveExecutable(cmd: string, searchPath: string): string | undefined {
  if (cmd.includes('/')) return isExecutableFile(cmd) ? cmd : undefined;
  for (const dir of searchPath.split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, cmd);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Process runtime: checks every program's command before anything starts, so a missing binary or
 * script is an immediate, readable launch failure rather than a workload that dies later. The
 * executable is looked up on the PATH the program will get; absolute paths among the command's
 * arguments (a script given to an interpreter) must exist too.
 */
export function checkProcessCommands(plan: LaunchPlan): void {
  const programs = [
    { what: 'the middleware', command: plan.middleware.command, env: plan.middleware.env },
    ...plan.connectors.map((c) => ({
      what: c.role === 'connector' ? 'the connector' : `the ${c.role}`,
      command: c.command,
      env: c.env,
    })),
  ];
  for (const p of programs) {
    const [cmd, ...rest] = p.command ?? [];
    if (!cmd) throw new Error(`${p.what} has no command`);
    const searchPath = buildProgramEnv(p.env, { home: plan.workDir }).PATH ?? '';
    if (!resolveExecutable(cmd, searchPath)) {
      throw new Error(
        `${p.what}'s command "${cmd}" does not exist or is not executable on this host` +
          (cmd.includes('/') ? '' : ` (searched PATH ${searchPath})`),
      );
    }
    for (const arg of rest) {
      if (path.isAbsolute(arg) && !fs.existsSync(arg)) {
        const hint = /\/dist\/[^/]+\.m?js$/.test(arg) ? ' (is its package built?)' : '';
        throw new Error(`${p.what}'s command refers to ${arg}, which does not exist on this host${hint}`);
      }
    }
  }
}
