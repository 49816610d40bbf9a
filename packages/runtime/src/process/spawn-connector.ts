import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import { buildProgramEnv } from '../program-env';
import type { ConnectorProgram, ConnectorStdio } from '../types';

/**
 * Starts a connector as a child of the middleware, for the process runtime.
 *
 * Contract with the process runtime: connectors are spawned WITHOUT `detached`, so they stay in
 * the middleware's process group, which the runtime's `stop` kills as a whole (SIGTERM, grace,
 * SIGKILL); a connector that changes its process group escapes `stop`. The environment is the
 * program's `env` over the minimal base of `buildProgramEnv`, never the middleware's own.
 * `resources` and `network` are not enforced for processes.
 */
export function spawnConnector(program: ConnectorProgram, cwd: string): ChildProcess {
  const [cmd, ...prefix] = program.command ?? [];
  if (!cmd) throw new Error(`connector "${program.role}" has no command to run in the process runtime`);
  return spawn(cmd, [...prefix, ...program.args], {
    cwd,
    env: buildProgramEnv(program.env, { home: cwd }),
    stdio: [program.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
}

/** A spawned connector as the runtime-independent `ConnectorStdio` the middleware consumes. */
export function childConnectorStdio(child: ChildProcess): ConnectorStdio {
  const { stdout, stderr, stdin } = child;
  if (!stdout || !stderr) throw new Error('the connector was not spawned with piped stdout and stderr');
  const exit = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0));
    });
  });
  // A caller that only consumes the streams must not crash the process with an unhandled rejection.
  exit.catch(() => {});
  return { stdout, stderr, ...(stdin ? { stdin } : {}), exit };
}
