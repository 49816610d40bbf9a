import { type ChildProcess, spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../src';
import { REDIS_URL, uniquePrefix, waitFor } from './helpers';

const port = 6390 + Math.floor(Math.random() * 200);
let server: ChildProcess;

function capture() {
  const lines: { level: number; msg: string; maxmemoryPolicy?: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()));
      cb();
    },
  });
  return { lines, logger: pino({ level: 'warn' }, stream) };
}

beforeAll(async () => {
  server = spawn(
    'redis-server',
    ['--port', String(port), '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru'],
    {
      stdio: 'ignore',
    },
  );
  const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => 100 });
  probe.on('error', () => {});
  await waitFor(
    'redis-server up',
    async () =>
      await probe
        .connect()
        .then(() => true)
        .catch(() => false),
  );
  probe.disconnect();
});

afterAll(async () => {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
});

describe('Redis eviction policy check', () => {
  it('warns when maxmemory-policy is not noeviction', async () => {
    const { lines, logger } = capture();
    const engine = createEngine({
      connection: { host: '127.0.0.1', port },
      prefix: uniquePrefix('mm'),
      logger,
    });
    const worker = engine.createWorker({ concurrency: 1 });
    await worker.waitUntilReady();
    await waitFor('warning', async () => lines.find((l) => l.maxmemoryPolicy === 'allkeys-lru'));
    await engine.close();
  });

  it('stays quiet with noeviction', async () => {
    const { lines, logger } = capture();
    const engine = createEngine({ connection: REDIS_URL, prefix: uniquePrefix('mm'), logger });
    expect(await engine.checkRedis()).toBe('noeviction');
    expect(lines).toEqual([]);
    await engine.close();
  });
});
