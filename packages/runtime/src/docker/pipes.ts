import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { type ConnectorProgram, PIPE_NAMES, PIPES_DIR } from '../types';

const run = promisify(execFile);

/**
 * Creates `<workDir>/pipes/` and the connectors' FIFOs (`<role>.stdout`, `<role>.stderr`, and
 * `<role>.stdin` for stdin programs), and clears exit markers of an earlier run. Permissions are
 * open (dir 1777, FIFOs 0666) because a connector image may run as any user; the workload's
 * working directory itself is what keeps other users out.
 */
export async function createWorkloadPipes(workDir: string, connectors: ConnectorProgram[]): Promise<void> {
  const dir = path.join(workDir, PIPES_DIR);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.chmod(dir, 0o1777);
  const missing: string[] = [];
  for (const c of connectors) {
    const names = [PIPE_NAMES.stdout(c.role), PIPE_NAMES.stderr(c.role)];
    if (c.stdin) names.push(PIPE_NAMES.stdin(c.role));
    for (const name of names) {
      const file = path.join(dir, name);
      const st = await fsp.lstat(file).catch(() => undefined);
      if (!st) missing.push(file);
      else if (!st.isFIFO()) throw new Error(`${file} exists and is not a named pipe`);
    }
    for (const marker of [PIPE_NAMES.exit(c.role), PIPE_NAMES.started(c.role)]) {
      await fsp.rm(path.join(dir, marker), { force: true });
    }
  }
  if (missing.length === 0) return;
  // Node.js has no mkfifo(3); coreutils' mkfifo is on every host that runs Docker.
  await run('mkfifo', ['-m', '0666', ...missing]).catch((e: Error) => {
    throw new Error(`cannot create named pipes in ${dir}: ${e.message}`);
  });
}
