import type { Socket } from 'node:net';
import { parseSdkEnv } from '../env';
import { BufferedLineWriter } from '../jsonl/encode';
import type {
  AirbyteCatalog,
  AirbyteMessage,
  AirbyteStateMessage,
  ConfiguredAirbyteCatalog,
} from '../schema';
import { type CommandContext, type CommonDefinition, type Connector, createConnector } from './connector';
import { findStreamState, loadCatalog, loadState } from './files';
import { catalogMessage } from './messages';
import { acceptOnSockets, dataChannelMode } from './socket';
import { DataChannel, type SourceOutput, SourceOutputImpl } from './source-output';
import { CatalogIndex } from './streams';

export interface ReadContext<C> extends CommandContext<C> {
  catalog: ConfiguredAirbyteCatalog;
  /** The --state file as state messages (a legacy blob becomes one LEGACY state); [] when absent. */
  state: AirbyteStateMessage[];
  /** The saved stream_state of one stream, from STREAM, GLOBAL or LEGACY state. */
  streamState(name: string, namespace?: string): Record<string, unknown> | undefined;
  out: SourceOutput;
  /** 'SOCKET' when records travel over Unix sockets (the SDK handles it; sources need not care). */
  medium: 'STDIO' | 'SOCKET';
}

export interface SourceDefinition<C = Record<string, unknown>> extends CommonDefinition<C> {
  discover(ctx: CommandContext<C>): Promise<AirbyteCatalog> | AirbyteCatalog;
  /**
   * Emits the configured streams through `ctx.out`, or yields messages (then the SDK applies
   * backpressure between them). Throwing fails the read with a TRACE ERROR and exit code 1.
   */
  read(ctx: ReadContext<C>): Promise<void> | undefined | AsyncIterable<AirbyteMessage>;
}

function isAsyncIterable(v: unknown): v is AsyncIterable<AirbyteMessage> {
  return typeof v === 'object' && v !== null && Symbol.asyncIterator in v;
}

/**
 * Builds a source CLI: `spec`, `check --config F`, `discover --config F`,
 * `read --config F --catalog F [--state F]`.
 */
export function defineSource<C = Record<string, unknown>>(def: SourceDefinition<C>): Connector {
  return createConnector<C>('source', def, async (cmd, config, rt) => {
    const { stdout, logger, io } = rt;
    if (cmd.command === 'discover') {
      stdout.writeMessage(catalogMessage(await def.discover({ config, logger })));
      return;
    }
    if (cmd.command !== 'read') throw new Error(`a source cannot run "${cmd.command}"`);
    const catalog = await loadCatalog(cmd.catalog);
    const index = new CatalogIndex(catalog);
    const state = await loadState(cmd.state);
    const mode = dataChannelMode(parseSdkEnv(io.env));

    let sockets: Socket[] = [];
    let channels: DataChannel[];
    if (mode.medium === 'STDIO') {
      channels = [new DataChannel(0, stdout, false)];
    } else {
      logger.info(`socket mode: waiting for the destination on ${mode.paths.length} socket(s)`);
      sockets = await acceptOnSockets(mode.paths, mode.connectTimeoutMs);
      channels = sockets.map((s, i) => new DataChannel(i, new BufferedLineWriter(s), true));
    }
    const out = new SourceOutputImpl(stdout, channels, index);
    const started = Date.now();
    let failure: unknown;
    try {
      const result = def.read({
        config,
        logger,
        catalog,
        state,
        streamState: (name, namespace) => findStreamState(state, name, namespace),
        out,
        medium: mode.medium,
      });
      if (isAsyncIterable(result)) {
        for await (const message of result) {
          out.message(message);
          if (out.needsDrain) await out.drain();
        }
      } else await result;
    } catch (err) {
      failure = err;
      out.failStartedStreams();
    }
    // Data channels are flushed (and sockets closed) whether the read succeeded or not:
    // records before the last state are valid either way.
    try {
      for (const ch of channels) {
        if (ch.socket) await ch.writer.end();
        else await ch.writer.flush();
      }
    } catch (err) {
      failure ??= err;
    } finally {
      for (const s of sockets) s.destroy();
    }
    if (failure !== undefined) throw failure;
    const seconds = (Date.now() - started) / 1000;
    logger.info(
      `read finished: ${out.recordCount} records in ${seconds.toFixed(2)} s` +
        (mode.medium === 'SOCKET' ? ` over ${channels.length} socket(s)` : ''),
    );
  });
}
