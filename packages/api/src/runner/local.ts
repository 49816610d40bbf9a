import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connectorProcessEnv } from '@sluice/db';
import {
  AirbyteCatalog,
  AirbyteConnectionStatus,
  ConnectorSpecification,
  formatZodError,
  parseAirbyteMessage,
} from '@sluice/protocol';
import { openConfig, type SecretBox } from '../secrets';
import { secretScrubber } from './scrub';
import {
  type CheckOutcome,
  type ConnectorRunContext,
  ConnectorRunError,
  type ConnectorRunner,
  type RunnableDefinition,
  RunnerUnsupportedError,
} from './types';

export interface LocalRunnerOptions {
  box: SecretBox;
  timeoutsMs?: { spec?: number; check?: number; discover?: number };
  /** Connector processes at once on this host; further calls wait. */
  maxConcurrent?: number;
  /** Largest stdout kept (a catalog can be big, but not unbounded). */
  maxOutputBytes?: number;
}

type Command = 'spec' | 'check' | 'discover';

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  spec?: ConnectorSpecification;
  status?: AirbyteConnectionStatus;
  catalog?: AirbyteCatalog;
  traceError?: { message: string; internalMessage?: string; failureType?: string };
  invalid: string[];
  stderrTail: string;
}

const KILL_GRACE_MS = 2_000;

class Semaphore {
  #free: number;
  #waiting: Array<() => void> = [];
  constructor(n: number) {
    this.#free = n;
  }
  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/**
 * Runs connectors as child processes of the API: the definition's `command` argv plus
 * Airbyte's arguments, in a private temporary directory holding the config file (mode 0600,
 * removed afterwards), with a minimal environment (no platform keys, tokens or database URL)
 * and a timeout. Standard output is parsed as Airbyte messages; LOG lines and stderr go to the
 * attempt log with the config's secrets scrubbed.
 */
export class LocalConnectorRunner implements ConnectorRunner {
  readonly #box: SecretBox;
  readonly #timeouts: Record<Command, number>;
  readonly #slots: Semaphore;
  readonly #maxOutput: number;

  constructor(options: LocalRunnerOptions) {
    this.#box = options.box;
    this.#timeouts = {
      spec: options.timeoutsMs?.spec ?? 60_000,
      check: options.timeoutsMs?.check ?? 120_000,
      discover: options.timeoutsMs?.discover ?? 600_000,
    };
    this.#slots = new Semaphore(options.maxConcurrent ?? 4);
    this.#maxOutput = options.maxOutputBytes ?? 64 * 1024 * 1024;
  }

  canRun(def: RunnableDefinition): boolean {
    return def.command.length > 0;
  }

  async spec(def: RunnableDefinition): Promise<ConnectorSpecification> {
    const result = await this.#run(def, 'spec', undefined, () => {});
    if (result.spec) return result.spec;
    throw this.#failure(def, 'spec', result, 'SPEC');
  }

  async check(
    def: RunnableDefinition,
    storedConfig: unknown,
    ctx: ConnectorRunContext,
  ): Promise<CheckOutcome> {
    const result = await this.#run(def, 'check', storedConfig, ctx.log);
    if (result.status) {
      return result.status.status === 'SUCCEEDED'
        ? { status: 'succeeded', ...(result.status.message ? { message: result.status.message } : {}) }
        : { status: 'failed', message: result.status.message ?? 'the connector reported a failed check' };
    }
    // A connector that cannot even try (bad config) reports an error trace instead of a status.
    if (result.traceError && !result.timedOut) {
      return {
        status: 'failed',
        message: result.traceError.message,
        ...(isFailureType(result.traceError.failureType)
          ? { failureType: result.traceError.failureType }
          : {}),
      };
    }
    throw this.#failure(def, 'check', result, 'CONNECTION_STATUS');
  }

  async discover(
    def: RunnableDefinition,
    storedConfig: unknown,
    ctx: ConnectorRunContext,
  ): Promise<AirbyteCatalog> {
    const result = await this.#run(def, 'discover', storedConfig, ctx.log);
    if (result.catalog && result.code === 0) return result.catalog;
    throw this.#failure(def, 'discover', result, 'CATALOG');
  }

  #failure(def: RunnableDefinition, command: Command, r: RunResult, expected: string): ConnectorRunError {
    const origin = def.kind;
    if (r.timedOut) {
      return new ConnectorRunError(
        `${command} did not finish within ${this.#timeouts[command] / 1000} s`,
        'transient_error',
        origin,
      );
    }
    if (r.traceError) {
      return new ConnectorRunError(
        r.traceError.message,
        isFailureType(r.traceError.failureType) ? r.traceError.failureType : 'system_error',
        origin,
        r.traceError.internalMessage,
      );
    }
    if (r.code !== 0 || r.signal) {
      const how = r.signal ? `was killed by ${r.signal}` : `exited with code ${r.code}`;
      return new ConnectorRunError(
        `${def.name} ${command} ${how}${r.stderrTail ? `: ${r.stderrTail}` : ''}`,
        'system_error',
        origin,
      );
    }
    const invalid = r.invalid.length ? ` (invalid messages: ${r.invalid.slice(0, 3).join('; ')})` : '';
    return new ConnectorRunError(
      `${def.name} ${command} printed no ${expected} message${invalid}`,
      'system_error',
      origin,
    );
  }

  async #run(
    def: RunnableDefinition,
    command: Command,
    storedConfig: unknown,
    log: (line: string) => void,
  ): Promise<RunResult> {
    if (!this.canRun(def)) {
      throw new RunnerUnsupportedError(
        `connector definition ${def.name} has no command: this installation runs connectors as local processes and cannot run the image ${def.image} yet`,
      );
    }
    return this.#slots.use(() => this.#spawn(def, command, storedConfig, log));
  }

  async #spawn(
    def: RunnableDefinition,
    command: Command,
    storedConfig: unknown,
    rawLog: (line: string) => void,
  ): Promise<RunResult> {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-run-'));
    try {
      const args: string[] = [command];
      let scrub = (t: string) => t;
      if (storedConfig !== undefined) {
        const plain = openConfig(storedConfig, this.#box);
        scrub = secretScrubber(def.spec, plain);
        const configPath = join(dir, 'config.json');
        await writeFile(configPath, JSON.stringify(plain), { mode: 0o600 });
        args.push('--config', configPath);
      }
      const log = (line: string) => rawLog(scrub(line));
      return await this.#exec(def, command, args, dir, log, scrub);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  #exec(
    def: RunnableDefinition,
    command: Command,
    args: string[],
    cwd: string,
    log: (line: string) => void,
    scrub: (t: string) => string,
  ): Promise<RunResult> {
    const [file, ...prefixArgs] = def.command as [string, ...string[]];
    return new Promise((resolve) => {
      const result: RunResult = { code: null, signal: null, timedOut: false, invalid: [], stderrTail: '' };
      let outputBytes = 0;
      const child = spawn(file, [...prefixArgs, ...args], {
        cwd,
        // Typed loosely on purpose: Next.js declares NODE_ENV required in ProcessEnv, and this
        // environment deliberately carries nothing but PATH, HOME, LANG and TZ.
        env: connectorProcessEnv() as NodeJS.ProcessEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: false,
      });
      const kill = (why: string) => {
        log(`[platform] stopping ${def.name} ${command}: ${why}`);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref();
      };
      const timer = setTimeout(() => {
        result.timedOut = true;
        kill(`timed out after ${this.#timeouts[command] / 1000} s`);
      }, this.#timeouts[command]);

      const stdout = createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY });
      stdout.on('line', (line) => {
        outputBytes += line.length + 1;
        if (outputBytes > this.#maxOutput) {
          if (outputBytes - line.length - 1 <= this.#maxOutput) kill('output exceeds the size limit');
          return;
        }
        this.#onLine(line, result, log, scrub);
      });
      const stderr = createInterface({ input: child.stderr, crlfDelay: Number.POSITIVE_INFINITY });
      stderr.on('line', (line) => {
        const clean = scrub(line);
        log(`[stderr] ${clean.slice(0, 4000)}`);
        result.stderrTail = (result.stderrTail ? `${result.stderrTail}\n${clean}` : clean).slice(-600);
      });

      let stdoutDone = false;
      let exited = false;
      const finish = () => {
        if (stdoutDone && exited) {
          clearTimeout(timer);
          resolve(result);
        }
      };
      stdout.on('close', () => {
        stdoutDone = true;
        finish();
      });
      child.on('error', (err) => {
        log(`[platform] could not start ${def.name}: ${err.message}`);
        result.code = -1;
        result.stderrTail = `could not start: ${err.message}`;
        stdoutDone = true;
        exited = true;
        finish();
      });
      child.on('exit', (code, signal) => {
        result.code = code;
        result.signal = signal;
        exited = true;
        finish();
      });
    });
  }

  #onLine(line: string, result: RunResult, log: (line: string) => void, scrub: (t: string) => string): void {
    const trimmed = line.trim();
    if (!trimmed) return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      log(scrub(trimmed).slice(0, 4000));
      return;
    }
    const parsed = parseAirbyteMessage(value);
    if (!parsed.success) {
      const why = formatZodError(parsed.error, value);
      result.invalid.push(why);
      log(`[platform] invalid message from the connector: ${why}`);
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'LOG':
        if (msg.log) log(`[${msg.log.level}] ${scrub(msg.log.message).slice(0, 8000)}`);
        break;
      case 'TRACE':
        if (msg.trace?.type === 'ERROR' && msg.trace.error) {
          const e = msg.trace.error;
          result.traceError ??= {
            message: scrub(e.message),
            ...(e.internal_message ? { internalMessage: scrub(e.internal_message) } : {}),
            ...(e.failure_type ? { failureType: e.failure_type } : {}),
          };
          log(`[ERROR] ${scrub(e.message)}${e.internal_message ? ` (${scrub(e.internal_message)})` : ''}`);
          if (e.stack_trace) log(scrub(e.stack_trace).slice(0, 8000));
        }
        break;
      case 'SPEC': {
        const spec = ConnectorSpecification.safeParse(msg.spec);
        if (spec.success) result.spec ??= spec.data;
        else result.invalid.push(`spec: ${formatZodError(spec.error, msg.spec)}`);
        break;
      }
      case 'CONNECTION_STATUS': {
        const status = AirbyteConnectionStatus.safeParse(msg.connectionStatus);
        if (status.success) {
          result.status ??= {
            ...status.data,
            ...(status.data.message ? { message: scrub(status.data.message) } : {}),
          };
        }
        break;
      }
      case 'CATALOG': {
        const catalog = AirbyteCatalog.safeParse(msg.catalog);
        if (catalog.success) result.catalog ??= catalog.data;
        else result.invalid.push(`catalog: ${formatZodError(catalog.error, msg.catalog)}`);
        break;
      }
      default:
        break;
    }
  }
}

function isFailureType(v: unknown): v is 'config_error' | 'system_error' | 'transient_error' {
  return v === 'config_error' || v === 'system_error' || v === 'transient_error';
}
