import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';

export interface DetachedOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Files its stdout and stderr append to. */
  stdout: string;
  stderr: string;
  /** `pipe` keeps a pipe to its stdin (a standby waiting for its handoff). */
  stdin: 'ignore' | 'pipe';
}

/**
 * Starts a middleware as the process runtime runs it: its own process group (it outlives the
 * launcher, and `stop` kills it with its connectors), output to log files, not holding this
 * process's event loop. Resolves once it runs; rejects when it cannot start.
 */
export async function spawnDetached(
  command: readonly string[],
  opts: DetachedOptions,
): Promise<ChildProcess> {
  const [cmd, ...args] = command;
  if (!cmd) throw new Error('no command to start');
  const out = fs.openSync(opts.stdout, 'a', 0o600);
  const err = fs.openSync(opts.stderr, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: [opts.stdin, out, err],
    });
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  child.on('error', () => {});
  child.unref();
  return child;
}
