import type { ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import {
  attachFifoConnector,
  type ConnectorProgram,
  type ConnectorRole,
  type ConnectorStdio,
  childConnectorStdio,
  spawnConnector,
} from '@sluice/runtime/io';

/** How a connector ended: its exit code, or why none is known. */
export interface ConnectorExit {
  code: number;
  /** Set when the connector could not be started or was lost (no exit code from it). */
  error?: string;
}

export interface RunningConnector {
  role: ConnectorRole;
  io: ConnectorStdio;
  pid: number | undefined;
  /** Resolves when the connector has ended; never rejects. */
  exit: Promise<ConnectorExit>;
  readonly ended: boolean;
  /** Asks the connector to stop (SIGTERM, then SIGKILL after `graceMs`); in container runtimes the
   * pipes are closed, and the runtime stops the container. */
  stop(graceMs: number): void;
}

export interface StartOptions {
  workDir: string;
  connectorIo: 'spawn' | 'fifo';
  /** Variables added to the plan's environment (process runtime only). */
  extraEnv?: Record<string, string>;
  /** Variables removed from the plan's environment (process runtime only). */
  removeEnv?: readonly string[];
}

export function startConnector(program: ConnectorProgram, opts: StartOptions): RunningConnector {
  if (opts.connectorIo === 'fifo') return attachFifo(program, opts.workDir);
  const env = { ...program.env, ...opts.extraEnv };
  for (const k of opts.removeEnv ?? []) delete env[k];
  let child: ChildProcess;
  try {
    child = spawnConnector({ ...program, env }, opts.workDir);
  } catch (err) {
    return failedToStart(program.role, (err as Error).message);
  }
  const io = childConnectorStdio(child);
  let ended = false;
  let killTimer: NodeJS.Timeout | undefined;
  const exit = io.exit.then(
    (code): ConnectorExit => ({ code }),
    (err: Error): ConnectorExit => ({ code: 127, error: `could not start ${program.role}: ${err.message}` }),
  );
  void exit.then(() => {
    ended = true;
    if (killTimer) clearTimeout(killTimer);
  });
  // A write to a dead destination's stdin raises EPIPE; its exit code tells the story.
  io.stdin?.on('error', () => {});
  return {
    role: program.role,
    io,
    pid: child.pid,
    exit,
    get ended() {
      return ended;
    },
    stop(graceMs) {
      if (ended) return;
      child.kill('SIGTERM');
      if (!killTimer) {
        killTimer = setTimeout(() => {
          if (!ended) child.kill('SIGKILL');
        }, graceMs);
        killTimer.unref();
      }
    },
  };
}

function attachFifo(program: ConnectorProgram, workDir: string): RunningConnector {
  const io = attachFifoConnector(workDir, program.role, { stdin: program.stdin });
  let ended = false;
  const exit = io.exit.then(
    (code): ConnectorExit => ({ code }),
    (err: Error): ConnectorExit => ({ code: 255, error: err.message }),
  );
  void exit.then(() => {
    ended = true;
  });
  io.stdin?.on('error', () => {});
  return {
    role: program.role,
    io,
    pid: undefined,
    exit,
    get ended() {
      return ended;
    },
    stop() {
      // The container runtime stops containers; closing our ends makes the connector's next
      // write fail (SIGPIPE), which ends it too.
      io.stdin?.destroy();
      io.stdout.destroy();
      io.stderr.destroy();
    },
  };
}

function failedToStart(role: ConnectorRole, message: string): RunningConnector {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.end();
  stderr.end();
  const exit = Promise.resolve<ConnectorExit>({ code: 127, error: `could not start ${role}: ${message}` });
  return {
    role,
    io: { stdout, stderr, exit: exit.then((e) => e.code) },
    pid: undefined,
    exit,
    ended: true,
    stop() {},
  };
}
