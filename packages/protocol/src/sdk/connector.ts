import { writeSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { processEnv } from '../env';
import { BufferedLineWriter } from '../jsonl/encode';
import type { AirbyteConnectionStatus, AirbyteLogLevel, ConnectorSpecification } from '../schema';
import { type ConnectorCommand, type ConnectorKind, parseArgs } from './args';
import { type ConfigValidator, compileConfigValidator } from './config';
import { ConfigError, ConnectorError } from './errors';
import { readJsonFile } from './files';
import { connectionStatusMessage, errorTraceMessage, logMessage, specMessage } from './messages';

/** The process streams and environment a command runs with (replaceable in tests). */
export interface ConnectorIO {
  stdin: Readable;
  stdout: Writable;
  env: Record<string, string | undefined>;
}

/** Writes LOG messages to stdout; a connector's stdout is the protocol channel, so no console.log. */
export interface ConnectorLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string, stackTrace?: string): void;
  log(level: AirbyteLogLevel, message: string, stackTrace?: string): void;
}

export function createConnectorLogger(out: BufferedLineWriter): ConnectorLogger {
  const log = (level: AirbyteLogLevel, message: string, stackTrace?: string) =>
    out.writeMessage(logMessage(level, message, stackTrace));
  return {
    log,
    debug: (m) => log('DEBUG', m),
    info: (m) => log('INFO', m),
    warn: (m) => log('WARN', m),
    error: (m, s) => log('ERROR', m, s),
  };
}

export interface CommandContext<C> {
  /** The config, validated against the spec, defaults filled in. */
  config: C;
  logger: ConnectorLogger;
}

/** `check` returns a status, or nothing for SUCCEEDED; a thrown error gives FAILED. */
export type CheckResult = AirbyteConnectionStatus | undefined;

export interface CommonDefinition<C> {
  spec: ConnectorSpecification;
  /** Turns the validated config into the connector's own type (e.g. a zod parse). */
  parseConfig?: (config: Record<string, unknown>) => C;
  check(ctx: CommandContext<C>): Promise<CheckResult> | CheckResult;
}

/** A runnable connector: Airbyte's CLI over a definition. */
export interface Connector {
  readonly kind: ConnectorKind;
  readonly spec: ConnectorSpecification;
  /** Runs one command (argv without node and script) and resolves with the exit code. */
  run(argv: readonly string[], io?: Partial<ConnectorIO>): Promise<number>;
  /** Runs with the process's argv and stdio, then exits with the command's code. */
  main(argv?: readonly string[]): void;
}

export interface CommandRuntime {
  stdout: BufferedLineWriter;
  logger: ConnectorLogger;
  io: ConnectorIO;
}

type Handler<C> = (
  cmd: Exclude<ConnectorCommand, { command: 'spec' } | { command: 'check' }>,
  config: C,
  rt: CommandRuntime,
) => Promise<void>;

// The writer of the command running in this process, so a fatal error can still flush it.
let activeStdout: BufferedLineWriter | undefined;

export function createConnector<C>(
  kind: ConnectorKind,
  def: CommonDefinition<C>,
  handle: Handler<C>,
): Connector {
  let validator: ConfigValidator | undefined;
  const validate = (): ConfigValidator => {
    validator ??= compileConfigValidator(def.spec.connectionSpecification as Record<string, unknown>);
    return validator;
  };
  /** Reads --config, validates it against the spec (filling defaults), and types it. */
  const loadConfig = async (path: string): Promise<C> => {
    const result = validate()(await readJsonFile(path, '--config'));
    if (!result.ok) throw new ConfigError(`Config validation error: ${result.problems.join('; ')}`);
    if (!def.parseConfig) return result.config as C;
    try {
      return def.parseConfig(result.config);
    } catch (err) {
      if (err instanceof ConnectorError) throw err;
      throw new ConfigError(`Config validation error: ${(err as Error).message}`);
    }
  };

  async function run(argv: readonly string[], partialIo: Partial<ConnectorIO> = {}): Promise<number> {
    const io: ConnectorIO = {
      stdin: partialIo.stdin ?? process.stdin,
      stdout: partialIo.stdout ?? process.stdout,
      env: partialIo.env ?? processEnv(),
    };
    const stdout = new BufferedLineWriter(io.stdout);
    activeStdout = stdout;
    const logger = createConnectorLogger(stdout);
    let code = 0;
    try {
      const cmd = parseArgs(kind, argv);
      if (cmd.command === 'spec') {
        stdout.writeMessage(specMessage(def.spec));
      } else if (cmd.command === 'check') {
        stdout.writeMessage(await runCheck(cmd.config));
      } else {
        await handle(cmd, await loadConfig(cmd.config), { stdout, logger, io });
      }
    } catch (err) {
      code = 1;
      try {
        stdout.writeMessage(errorTraceMessage(err));
      } catch {
        // stdout itself failed (the reader went away): the exit code is all that is left.
      }
    }
    try {
      await stdout.flush();
    } catch {
      code = 1;
    } finally {
      stdout.detach();
      if (activeStdout === stdout) activeStdout = undefined;
    }
    return code;

    async function runCheck(configPath: string) {
      let config: C;
      try {
        config = await loadConfig(configPath);
      } catch (err) {
        return connectionStatusMessage('FAILED', (err as Error).message);
      }
      try {
        const status = await def.check({ config, logger });
        return connectionStatusMessage(status?.status ?? 'SUCCEEDED', status?.message);
      } catch (err) {
        // The cause goes to the log with its stack; the status carries the message.
        logger.error(`check failed: ${(err as Error).message}`, (err as Error).stack);
        return connectionStatusMessage('FAILED', (err as Error).message || String(err));
      }
    }
  }

  return {
    kind,
    spec: def.spec,
    run,
    main(argv = process.argv.slice(2)) {
      installFatalHandlers();
      void run(argv).then((code) => process.exit(code));
    },
  };
}

let fatalHandlersInstalled = false;

/**
 * An error outside the command's promise chain (a stray event emitter, a timer) still
 * becomes a TRACE ERROR and exit code 1, written synchronously since the process is ending.
 */
function installFatalHandlers(): void {
  if (fatalHandlersInstalled) return;
  fatalHandlersInstalled = true;
  const fatal = (err: unknown) => {
    try {
      const pending = activeStdout?.takePending();
      if (pending && pending.length > 0) writeSync(1, pending);
      writeSync(1, `${JSON.stringify(errorTraceMessage(err))}\n`);
    } finally {
      process.exit(1);
    }
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}
