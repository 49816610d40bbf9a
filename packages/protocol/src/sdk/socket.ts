import { lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { SdkEnv } from '../env';
import { ConnectorError } from './errors';

/** Where RECORD and STATE messages travel: stdout/stdin, or Unix sockets (Airbyte's socket mode). */
export type DataChannelMode =
  | { medium: 'STDIO' }
  | { medium: 'SOCKET'; format: 'JSONL'; paths: string[]; connectTimeoutMs: number };

export function dataChannelMode(env: SdkEnv): DataChannelMode {
  if (env.DATA_CHANNEL_MEDIUM === 'STDIO') return { medium: 'STDIO' };
  if (env.DATA_CHANNEL_FORMAT !== 'JSONL') {
    throw new ConnectorError(
      `DATA_CHANNEL_FORMAT=${env.DATA_CHANNEL_FORMAT} is not supported; this connector speaks JSONL`,
    );
  }
  const paths = (env.DATA_CHANNEL_SOCKET_PATHS ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (paths.length === 0) {
    throw new ConnectorError(
      'DATA_CHANNEL_MEDIUM=SOCKET needs DATA_CHANNEL_SOCKET_PATHS (comma-separated socket paths)',
    );
  }
  if (new Set(paths).size !== paths.length) {
    throw new ConnectorError('DATA_CHANNEL_SOCKET_PATHS lists the same socket path twice');
  }
  return { medium: 'SOCKET', format: 'JSONL', paths, connectTimeoutMs: env.SLUICE_SOCKET_CONNECT_TIMEOUT_MS };
}

/**
 * The environment that puts a connector in socket mode over `paths` (the platform sets it on
 * both the source and the destination, with the same paths in the same order).
 */
export function socketModeEnv(paths: readonly string[]): Record<string, string> {
  return {
    DATA_CHANNEL_MEDIUM: 'SOCKET',
    DATA_CHANNEL_FORMAT: 'JSONL',
    DATA_CHANNEL_SOCKET_PATHS: paths.join(','),
  };
}

/** Socket buffers: large writes in few syscalls; the writer above batches to this size. */
const SOCKET_HIGH_WATER_MARK = 1024 * 1024;

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Absent: nothing to remove. Anything else surfaces when listen() fails.
  }
}

/**
 * Source side: listens on every path and resolves once one peer has connected to each.
 * Each server stops accepting after its first connection (and Node removes the socket file
 * when it closes).
 */
export async function acceptOnSockets(paths: readonly string[], timeoutMs: number): Promise<Socket[]> {
  const servers: Server[] = [];
  const closeAll = () => {
    for (const s of servers) s.close();
  };
  try {
    return await Promise.all(
      paths.map(
        (path, index) =>
          new Promise<Socket>((resolve, reject) => {
            removeStaleSocket(path);
            const server = createServer({ highWaterMark: SOCKET_HIGH_WATER_MARK });
            servers.push(server);
            const timer = setTimeout(() => {
              reject(
                new ConnectorError(
                  `no destination connected to socket ${index} (${path}) within ${timeoutMs} ms`,
                ),
              );
            }, timeoutMs);
            timer.unref();
            server.once('error', (err) => {
              clearTimeout(timer);
              reject(new ConnectorError(`could not listen on socket ${index} (${path}): ${err.message}`));
            });
            server.once('connection', (socket) => {
              clearTimeout(timer);
              server.close();
              resolve(socket);
            });
            server.listen(path);
          }),
      ),
    );
  } catch (err) {
    closeAll();
    throw err;
  }
}

/** Destination side: connects to every path, retrying until each source socket is listening. */
export async function connectToSockets(paths: readonly string[], timeoutMs: number): Promise<Socket[]> {
  const deadline = Date.now() + timeoutMs;
  const connected: Socket[] = [];
  try {
    return await Promise.all(
      paths.map(async (path, index) => {
        for (let attempt = 0; ; attempt++) {
          try {
            const socket = await connectOnce(path);
            connected.push(socket);
            return socket;
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            const retryable = code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EAGAIN';
            if (!retryable || Date.now() >= deadline) {
              throw new ConnectorError(
                `could not connect to socket ${index} (${path}) after ${attempt + 1} attempts: ${(err as Error).message}`,
              );
            }
            await new Promise((r) => setTimeout(r, Math.min(200, 10 * 2 ** Math.min(attempt, 4))));
          }
        }
      }),
    );
  } catch (err) {
    for (const s of connected) s.destroy();
    throw err;
  }
}

function connectOnce(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path, highWaterMark: SOCKET_HIGH_WATER_MARK } as never);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
