import { Redis, type RedisOptions } from 'ioredis';
import { CANCEL, COMMIT, LOAD, SIGNAL, START, TERMINATE, WAKE_CHECK } from './scripts';

/** A URL (`redis://…`) or ioredis options. */
export type RedisConnection = string | RedisOptions;

type Script = (...args: (string | number)[]) => Promise<unknown>;

/** The engine's command client with its Lua scripts bound (EVALSHA with automatic load). */
export interface ScriptedRedis extends Redis {
  wfStart: Script;
  wfLoad: Script;
  wfCommit: Script;
  wfSignal: Script;
  wfCancel: Script;
  wfTerminate: Script;
  wfWakeCheck: Script;
}

export function createRedis(connection: RedisConnection, overrides: RedisOptions = {}): Redis {
  return typeof connection === 'string'
    ? new Redis(connection, overrides)
    : new Redis({ ...connection, ...overrides });
}

export function createScriptedRedis(
  connection: RedisConnection,
  overrides: RedisOptions = {},
): ScriptedRedis {
  const r = createRedis(connection, overrides);
  r.defineCommand('wfStart', { numberOfKeys: 3, lua: START });
  r.defineCommand('wfLoad', { numberOfKeys: 3, lua: LOAD });
  r.defineCommand('wfCommit', { numberOfKeys: 6, lua: COMMIT });
  r.defineCommand('wfSignal', { numberOfKeys: 2, lua: SIGNAL });
  r.defineCommand('wfCancel', { numberOfKeys: 1, lua: CANCEL });
  r.defineCommand('wfTerminate', { numberOfKeys: 4, lua: TERMINATE });
  // Variable key count: the first argument is the number of keys.
  r.defineCommand('wfWakeCheck', { lua: WAKE_CHECK });
  return r as ScriptedRedis;
}

/** Shares one subscriber connection among channel listeners. */
export class Subscriber {
  private client: Redis | null = null;
  private ready: Promise<void> | null = null;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();

  constructor(
    private readonly connection: RedisConnection,
    private readonly onError: (err: Error) => void,
  ) {}

  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    const client = await this.connect();
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      await client.subscribe(channel);
    }
    set.add(handler);
    return async () => {
      const s = this.handlers.get(channel);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.handlers.delete(channel);
        if (this.client && this.client.status === 'ready')
          await this.client.unsubscribe(channel).catch(() => {});
      }
    };
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    this.ready = null;
    this.handlers.clear();
    if (c) await c.quit().catch(() => c.disconnect());
  }

  private connect(): Promise<Redis> {
    if (!this.ready) {
      const client = createRedis(this.connection, { maxRetriesPerRequest: null });
      this.client = client;
      client.on('error', this.onError);
      client.on('message', (channel: string, message: string) => {
        const set = this.handlers.get(channel);
        if (!set) return;
        for (const h of set) {
          try {
            h(message);
          } catch (err) {
            this.onError(err as Error);
          }
        }
      });
      this.ready = new Promise<void>((resolve, reject) => {
        if (client.status === 'ready') return resolve();
        client.once('ready', () => resolve());
        client.once('end', () => reject(new Error('redis subscriber connection ended')));
      });
    }
    const client = this.client!;
    return this.ready.then(() => client);
  }
}
