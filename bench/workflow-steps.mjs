#!/usr/bin/env node
// workflow-steps: throughput of @sluice/workflow against raw BullMQ on the same Redis.
//
//   steps_per_s     3-step workflows with no-op step bodies, 2 worker processes; a step
//                   counts once its result is stored in Redis (we count completed workflows).
//   raw_jobs_per_s  BullMQ jobs with a no-op handler, 2 worker processes, same concurrency.
//   ratio           steps_per_s / raw_jobs_per_s.
//
// Both queues are filled before the workers start, so only processing is timed.
// Needs the built package (`npx tsup` in packages/workflow) and Redis.
// Options: --redis=URL (redis://127.0.0.1:6379) --workflows=N --jobs=N --concurrency=N --rounds=N.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '../packages/workflow/dist/index.js');
if (!existsSync(dist)) {
  console.error('workflow-steps: build the engine first: (cd packages/workflow && npx tsup)');
  process.exit(2);
}
const { createEngine, defineWorkflow } = await import(dist);
const { Queue, Worker } = await import('bullmq');
const { Redis } = await import('ioredis');
const { z } = await import('zod');
const pino = (await import('pino')).default;

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => {
      const [k, v] = a.slice(2).split('=');
      return [k, v ?? 'true'];
    }),
);
const REDIS_URL = args.redis ?? 'redis://127.0.0.1:6379';
const WORKFLOWS = Number(args.workflows ?? 6000);
const JOBS = Number(args.jobs ?? 20000);
const CONCURRENCY = Number(args.concurrency ?? 20);
const ROUNDS = Number(args.rounds ?? 3);
const PROCESSES = 2;

const threeSteps = defineWorkflow('bench-three-steps', z.object({ i: z.number() }), async (ctx, input) => {
  const a = await ctx.step('a', () => input.i);
  const b = await ctx.step('b', () => a + 1);
  return ctx.step('c', () => b + 1);
});

const silent = pino({ level: 'warn' });

// ---------------------------------------------------------------- child roles

async function childMain(role, prefix) {
  let close;
  if (role === 'raw') {
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker('raw', async () => null, {
      connection,
      prefix,
      concurrency: CONCURRENCY,
      autorun: false,
      removeOnComplete: { count: 0 },
    });
    await worker.waitUntilReady();
    close = async () => {
      await worker.close();
      connection.disconnect();
    };
    process.on('message', (m) => {
      if (m === 'go') void worker.run();
    });
  } else {
    const engine = createEngine({ connection: REDIS_URL, prefix, logger: silent });
    const worker = engine.createWorker({ workflows: [threeSteps], concurrency: CONCURRENCY, autorun: false });
    await worker.waitUntilReady();
    close = () => engine.close(5000);
    process.on('message', (m) => {
      if (m === 'go') void worker.run();
    });
  }
  process.on('message', async (m) => {
    if (m === 'stop') {
      await close();
      process.exit(0);
    }
  });
  process.send('ready');
}

// ---------------------------------------------------------------- parent

function spawnWorkers(role, prefix) {
  return Array.from({ length: PROCESSES }, () => {
    const child = fork(
      fileURLToPath(import.meta.url),
      [...process.argv.slice(2), `--role=${role}`, `--prefix=${prefix}`],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const ready = new Promise((resolve, reject) => {
      child.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(String(m)))));
      child.once('exit', (code) => reject(new Error(`${role} worker exited with ${code}`)));
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    return { child, ready, exited };
  });
}

async function runTimed(workers, done) {
  await Promise.all(workers.map((w) => w.ready));
  const t0 = process.hrtime.bigint();
  for (const w of workers) w.child.send('go');
  while (!(await done())) await new Promise((r) => setTimeout(r, 25));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const w of workers) w.child.send('stop');
  await Promise.all(workers.map((w) => w.exited));
  return seconds;
}

async function dropPrefix(redis, prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

async function benchRaw(redis, jobs) {
  const prefix = `bench-raw-${randomBytes(4).toString('hex')}`;
  const queue = new Queue('raw', { connection: redis, prefix });
  try {
    for (let i = 0; i < jobs; i += 1000) {
      const batch = [];
      for (let j = i; j < Math.min(jobs, i + 1000); j++) {
        batch.push({ name: 'noop', data: { i: j }, opts: { removeOnComplete: true } });
      }
      await queue.addBulk(batch);
    }
    const workers = spawnWorkers('raw', prefix);
    const seconds = await runTimed(workers, async () => {
      const c = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'completed');
      return c.wait + c.active + c.delayed + c.prioritized === 0;
    });
    return jobs / seconds;
  } finally {
    await queue.close();
    await dropPrefix(redis, prefix);
  }
}

async function benchWorkflows(redis, workflows) {
  const prefix = `bench-wf-${randomBytes(4).toString('hex')}`;
  const engine = createEngine({ connection: REDIS_URL, prefix, logger: silent });
  engine.register(threeSteps);
  try {
    for (let i = 0; i < workflows; i += 200) {
      const starts = [];
      for (let j = i; j < Math.min(workflows, i + 200); j++)
        starts.push(engine.start(threeSteps, `wf-${j}`, { i: j }));
      await Promise.all(starts);
    }
    const workers = spawnWorkers('wf', prefix);
    const seconds = await runTimed(workers, async () => (await engine.stats()).completed >= workflows);
    const stats = await engine.stats();
    if (stats.failed > 0) throw new Error(`${stats.failed} benchmark workflows failed`);
    const sample = await engine.query('wf-7');
    if (sample?.output !== 9) throw new Error(`unexpected workflow output ${JSON.stringify(sample?.output)}`);
    return (workflows * 3) / seconds;
  } finally {
    await engine.close();
    await dropPrefix(redis, prefix);
  }
}

async function parentMain() {
  const redis = new Redis(REDIS_URL);
  try {
    // Warm-up (JIT, script loading), not reported.
    await benchRaw(redis, Math.min(2000, JOBS));
    await benchWorkflows(redis, Math.min(500, WORKFLOWS));
    // The machine may be shared: alternate the two measurements and keep the medians, so a
    // burst of foreign load does not land on one side only.
    const raws = [];
    const steps = [];
    for (let round = 0; round < ROUNDS; round++) {
      raws.push(await benchRaw(redis, JOBS));
      steps.push(await benchWorkflows(redis, WORKFLOWS));
    }
    const raw = median(raws);
    const step = median(steps);
    console.error(
      `workflow-steps: rounds=${ROUNDS} steps/s=[${steps.map(Math.round).join(', ')}] jobs/s=[${raws.map(Math.round).join(', ')}]`,
    );
    const out = (metric, value, unit) =>
      console.log(
        JSON.stringify({ bench: 'workflow-steps', metric, value: Math.round(value * 1000) / 1000, unit }),
      );
    out('steps_per_s', step, 'steps/s');
    out('raw_jobs_per_s', raw, 'jobs/s');
    out('ratio', step / raw, 'ratio');
  } finally {
    redis.disconnect();
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

if (args.role) await childMain(args.role, args.prefix);
else await parentMain();
