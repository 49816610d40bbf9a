/**
 * Middleware-side access to a connector that runs in a container runtime: its stdio are named
 * pipes in `<workDir>/pipes/` (see PIPE_NAMES), its exit code a file its wrapper writes.
 *
 * Opening a FIFO blocks until the other end opens, and Node's fs opens run on the small libuv
 * thread pool: a few blocked opens would starve every other fs call. So nothing here blocks:
 * read ends are opened O_NONBLOCK (Linux lets a reader open with no writer) and handed to a
 * net.Socket, which polls them with epoll; Linux reports no hang-up to a reader that never saw
 * a writer, so the stream waits for the connector instead of ending at once. The write end
 * cannot be opened without a reader (ENXIO), so it is retried until the connector opens its
 * stdin; writes made before that are buffered with normal backpressure.
 *
 * This file depends on Node.js and `../types` only, so the middleware can bundle it.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PassThrough, pipeline, type Readable, type Writable } from 'node:stream';
import { type ConnectorRole, type ConnectorStdio, PIPE_NAMES, PIPES_DIR } from '../types';

export interface AttachFifoOptions {
  /** The connector reads stdin (destinations' `write`): return a `stdin` stream. */
  stdin?: boolean;
  /** Reject `exit` when the connector's container has not started (its wrapper wrote neither
   * `<role>.started` nor `<role>.exit`) within this many ms. Default 120 s; 0 waits forever. */
  startTimeoutMs?: number;
  /** After the connector closed its stdout, how long to wait for its exit code before deciding it
   * was killed without its wrapper noticing (e.g. the container was removed). Default 60 s; 0
   * waits forever. */
  exitGraceMs?: number;
  /** Aborting destroys the streams and rejects `exit` with the signal's reason. */
  signal?: AbortSignal;
  /** How often the exit file (and the stdin pipe, until the connector opens it) is checked. */
  pollMs?: number;
}

export class ConnectorStartTimeoutError extends Error {
  constructor(
    readonly role: ConnectorRole,
    ms: number,
  ) {
    super(`connector "${role}" did not start within ${ms} ms (its container never ran?)`);
    this.name = 'ConnectorStartTimeoutError';
  }
}

export class ConnectorLostError extends Error {
  constructor(
    readonly role: ConnectorRole,
    ms: number,
  ) {
    super(`connector "${role}" closed its stdout but reported no exit code within ${ms} ms (killed?)`);
    this.name = 'ConnectorLostError';
  }
}

function openFifoReader(file: string): net.Socket {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`named pipe ${file} does not exist; was the workload launched by a container runtime?`);
    }
    throw e;
  }
  if (!fs.fstatSync(fd).isFIFO()) {
    fs.closeSync(fd);
    throw new Error(`${file} is not a named pipe`);
  }
  return new net.Socket({ fd, readable: true, writable: false });
}

/** A writable that opens the FIFO's write end once the connector has opened its read end. */
function openFifoWriter(file: string, pollMs: number): { stream: Writable; cancel: () => void } {
  const buffer = new PassThrough();
  let timer: NodeJS.Timeout | undefined;
  let socket: net.Socket | undefined;
  let cancelled = false;
  const tryOpen = () => {
    if (cancelled || buffer.destroyed) return;
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENXIO') {
        timer = setTimeout(tryOpen, pollMs);
        return;
      }
      buffer.destroy(
        code === 'ENOENT'
          ? new Error(`named pipe ${file} does not exist; was the workload launched by a container runtime?`)
          : (e as Error),
      );
      return;
    }
    socket = new net.Socket({ fd, readable: false, writable: true });
    // On EPIPE (the connector died) pipeline destroys `buffer` with the error, which the caller sees.
    pipeline(buffer, socket, () => {});
  };
  tryOpen();
  return {
    stream: buffer,
    cancel: () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
      buffer.destroy();
      socket?.destroy();
    },
  };
}

async function readExitCode(file: string): Promise<number | undefined> {
  try {
    const code = Number.parseInt((await fsp.readFile(file, 'utf8')).trim(), 10);
    return Number.isInteger(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens a containerised connector's stdio pipes and watches for its exit code. Never blocks:
 * the streams wait for the connector, and `exit` resolves when its wrapper writes `<role>.exit`
 * (or rejects on start timeout, lost connector or abort). Drain both `stdout` and `stderr`, and
 * listen for `error` on `stdin` (EPIPE when the connector dies while you write).
 */
export function attachFifoConnector(
  workDir: string,
  role: ConnectorRole,
  opts: AttachFifoOptions = {},
): ConnectorStdio {
  const pollMs = opts.pollMs ?? 100;
  const startTimeoutMs = opts.startTimeoutMs ?? 120_000;
  const exitGraceMs = opts.exitGraceMs ?? 60_000;
  const dir = path.join(workDir, PIPES_DIR);
  const file = (name: string) => path.join(dir, name);

  const opened: Readable[] = [];
  let writer: ReturnType<typeof openFifoWriter> | undefined;
  try {
    opened.push(openFifoReader(file(PIPE_NAMES.stdout(role))));
    opened.push(openFifoReader(file(PIPE_NAMES.stderr(role))));
    if (opts.stdin) writer = openFifoWriter(file(PIPE_NAMES.stdin(role)), Math.min(pollMs, 50));
  } catch (e) {
    for (const s of opened) s.destroy();
    throw e;
  }
  const [stdout, stderr] = opened as [Readable, Readable];

  let stdoutEndedAt: number | undefined;
  stdout.once('end', () => {
    stdoutEndedAt = Date.now();
  });

  const exit = new Promise<number>((resolve, reject) => {
    const t0 = Date.now();
    let started = false;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (err: Error | undefined, code?: number) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) {
        writer?.cancel();
        stdout.destroy();
        stderr.destroy();
        reject(err);
      } else {
        resolve(code!);
      }
    };
    const onAbort = () => {
      const reason = opts.signal?.reason;
      finish(reason instanceof Error ? reason : new Error(`attaching to connector "${role}" was aborted`));
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const check = async () => {
      if (done) return;
      const code = await readExitCode(file(PIPE_NAMES.exit(role)));
      if (code !== undefined) return finish(undefined, code);
      if (!started) started = fs.existsSync(file(PIPE_NAMES.started(role)));
      const now = Date.now();
      if (!started && startTimeoutMs > 0 && now - t0 > startTimeoutMs) {
        return finish(new ConnectorStartTimeoutError(role, startTimeoutMs));
      }
      if (stdoutEndedAt !== undefined && exitGraceMs > 0 && now - stdoutEndedAt > exitGraceMs) {
        return finish(new ConnectorLostError(role, exitGraceMs));
      }
      if (!done) timer = setTimeout(check, pollMs);
    };
    void check();
  });
  // Callers who only consume the streams must not crash on an unhandled rejection.
  exit.catch(() => {});

  return { stdout, stderr, ...(writer ? { stdin: writer.stream } : {}), exit };
}
