import type { Readable, Writable } from 'node:stream';

/** Where a command reads and writes: the process's streams, or buffers in tests. */
export interface Io {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  stdin: Readable & { isTTY?: boolean };
  /** The environment for SLUICE_* settings and `${VAR}` interpolation in sluice.yaml. */
  env: Record<string, string | undefined>;
  sleep(ms: number): Promise<void>;
}

export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}

export async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8');
}
