import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, type FileHandle, mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import {
  type AirbyteRecordMessage,
  ConfigError,
  type ConfiguredAirbyteStream,
  defineDestination,
  type LineReader,
  peekRecordEnvelope,
  type RecordMessage,
  type StreamMapper,
  streamKey,
  streamLabel,
} from '@sluice/protocol';

export interface LocalJsonlConfig {
  /** Directory that receives one `<stream>.jsonl` (or `<namespace>__<stream>.jsonl`) per stream. */
  destination_path: string;
}

export const spec = {
  documentationUrl: 'https://docs.airbyte.com/integrations/destinations/local-json',
  supported_destination_sync_modes: ['overwrite', 'append'] as Array<'overwrite' | 'append'>,
  connectionSpecification: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Local JSONL Destination Spec',
    type: 'object',
    required: ['destination_path'],
    additionalProperties: true,
    properties: {
      destination_path: {
        title: 'Destination Path',
        description:
          'Directory the files are written to: one <stream>.jsonl per stream (<namespace>__<stream>.jsonl when the stream has a namespace). Created if missing.',
        type: 'string',
        minLength: 1,
        examples: ['/local/json_data'],
      },
    },
  },
};

/** A file name from a stream descriptor: safe characters only, namespace first. */
export function fileNameFor(name: string, namespace?: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_');
  return `${namespace ? `${safe(namespace)}__` : ''}${safe(name)}.jsonl`;
}

const FLUSH_BYTES = 1024 * 1024;

/** A record in Airbyte's local-json layout. */
const outputLine = (emittedAt: string, data: string) =>
  `{"_airbyte_ab_id":"${randomUUID()}","_airbyte_emitted_at":${emittedAt},"_airbyte_data":${data}}\n`;

/** A record whose output line was built from its input line; its data is parsed only if asked. */
class LineRecord {
  constructor(
    readonly stream: string,
    readonly namespace: string | undefined,
    readonly emitted_at: number,
    readonly line: string,
    private readonly dataText: string,
  ) {}

  get data(): Record<string, unknown> {
    return JSON.parse(this.dataText) as Record<string, unknown>;
  }
}

/**
 * Reads plain records without JSON.parse: the whole line is checked as JSON by the SDK's
 * envelope scanner, and `data` goes to the file as the source wrote it (JSON.stringify of the
 * parsed value would only drop whitespace and trailing zeros). Records whose fields the stream
 * mapping selects, and anything unusual, are left to the SDK.
 */
function lineReader(streams: ReadonlySet<string>, mapping: StreamMapper | undefined): LineReader {
  return (buf, start, end) => {
    const env = peekRecordEnvelope(buf, start, end);
    if (!env?.plain || env.type !== 'RECORD' || env.stream === undefined || env.namespace === null) return;
    const { data, emittedAt } = env;
    if (!data || buf[data.start] !== 0x7b || !emittedAt) return;
    const emitted = buf.toString('latin1', emittedAt.start, emittedAt.end);
    if (!/^(0|[1-9][0-9]{0,14})$/.test(emitted)) return;
    const target = mapping
      ? mapping.target(env.stream, env.namespace)
      : { name: env.stream, namespace: env.namespace, fields: undefined };
    if (!target || target.fields || !streams.has(streamKey(target.name, target.namespace))) return;
    const dataText = buf.toString('utf8', data.start, data.end);
    const record = new LineRecord(
      target.name,
      target.namespace,
      Number(emitted),
      outputLine(emitted, dataText),
      dataText,
    );
    return {
      message: { type: 'RECORD', record: record as unknown as AirbyteRecordMessage },
      source: { name: env.stream, namespace: env.namespace },
    };
  };
}

/**
 * One stream's output. Overwrite streams write to a staging file that replaces the final file
 * only when the sync ends successfully; the staging file is named after the stream's
 * generation_id, so a retried attempt of the same generation appends to it and keeps the
 * records its acknowledged states cover. Append streams write to the final file directly.
 */
class StreamFile {
  private pending: string[] = [];
  private pendingBytes = 0;
  private dirty = false;
  records = 0;

  private constructor(
    readonly label: string,
    readonly finalPath: string,
    readonly writePath: string,
    private readonly handle: FileHandle,
  ) {}

  static async open(dir: string, configured: ConfiguredAirbyteStream): Promise<StreamFile> {
    const { name, namespace } = configured.stream;
    const file = fileNameFor(name, namespace);
    const finalPath = join(dir, file);
    let writePath = finalPath;
    if (configured.destination_sync_mode === 'overwrite') {
      const generation = configured.generation_id ?? 'current';
      writePath = join(dir, `.${file}.gen-${generation}.staging`);
      // Staging files of other generations belong to abandoned syncs.
      for (const entry of await readdir(dir)) {
        if (
          entry.startsWith(`.${file}.gen-`) &&
          entry.endsWith('.staging') &&
          join(dir, entry) !== writePath
        ) {
          await unlink(join(dir, entry));
        }
      }
      if (configured.generation_id === undefined) await rm(writePath, { force: true });
    }
    const handle = await open(writePath, 'a');
    return new StreamFile(streamLabel(name, namespace), finalPath, writePath, handle);
  }

  append(record: RecordMessage['record']): void {
    this.appendLine(outputLine(String(record.emitted_at), JSON.stringify(record.data)));
  }

  appendLine(line: string): void {
    this.pending.push(line);
    this.pendingBytes += line.length;
    this.records++;
  }

  get needsFlush(): boolean {
    return this.pendingBytes >= FLUSH_BYTES;
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const data = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    await this.handle.write(data);
    this.dirty = true;
  }

  /** Writes and fsyncs everything appended so far. */
  async sync(): Promise<void> {
    await this.flush();
    if (this.dirty) {
      await this.handle.datasync();
      this.dirty = false;
    }
  }

  async close(): Promise<void> {
    await this.sync();
    await this.handle.close();
    if (this.writePath !== this.finalPath) await rename(this.writePath, this.finalPath);
  }
}

async function resolveDirectory(config: LocalJsonlConfig): Promise<string> {
  const dir = isAbsolute(config.destination_path)
    ? config.destination_path
    : resolve(config.destination_path);
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (err) {
    throw new ConfigError(`destination_path "${dir}" is not a writable directory: ${(err as Error).message}`);
  }
  return dir;
}

/** Writes each stream to its own JSONL file; states are acknowledged after an fsync. */
export const destination = defineDestination<LocalJsonlConfig>({
  spec,
  parseConfig: (raw) => raw as unknown as LocalJsonlConfig,
  async check({ config }) {
    const dir = await resolveDirectory(config);
    const probe = join(dir, `.sluice-check-${process.pid}`);
    const handle = await open(probe, 'w');
    await handle.close();
    await unlink(probe);
    return { status: 'SUCCEEDED' };
  },
  async write({ config, catalog, input, ack, logger, mapping, readRecordsWith }) {
    readRecordsWith(
      lineReader(new Set(catalog.streams.map((s) => streamKey(s.stream.name, s.stream.namespace))), mapping),
    );
    const dir = await resolveDirectory(config);
    const byFile = new Map<string, string>();
    for (const s of catalog.streams) {
      const mode = s.destination_sync_mode;
      const label = streamLabel(s.stream.name, s.stream.namespace);
      if (mode !== 'overwrite' && mode !== 'append') {
        throw new ConfigError(
          `stream "${label}" asks for destination sync mode "${mode}"; this destination supports overwrite and append`,
        );
      }
      const file = fileNameFor(s.stream.name, s.stream.namespace);
      const other = byFile.get(file);
      if (other) throw new ConfigError(`streams "${other}" and "${label}" would both write ${file}`);
      byFile.set(file, label);
    }
    const files = new Map<string, StreamFile>();
    for (const s of catalog.streams)
      files.set(streamKey(s.stream.name, s.stream.namespace), await StreamFile.open(dir, s));
    const all = [...files.values()];
    let last: StreamFile | undefined;
    let lastName: string | undefined;
    let lastNamespace: string | undefined;
    for await (const batch of input) {
      for (const m of batch.messages) {
        if (m.type === 'RECORD' && m.record) {
          const r = m.record;
          if (r.stream !== lastName || r.namespace !== lastNamespace || !last) {
            last = files.get(streamKey(r.stream, r.namespace))!;
            lastName = r.stream;
            lastNamespace = r.namespace;
          }
          if (r instanceof LineRecord) last.appendLine(r.line);
          else last.append(r);
          if (last.needsFlush) await last.flush();
        } else if (m.type === 'STATE') {
          // The records before this state are durable before it is acknowledged.
          await Promise.all(all.map((f) => f.sync()));
          ack(m);
        }
      }
    }
    for (const f of all) await f.close();
    // Make the renames of overwritten files durable too.
    const dirHandle = await open(dir, 'r');
    await dirHandle.sync().finally(() => dirHandle.close());
    logger.info(`wrote ${all.map((f) => `${f.records} records to ${f.finalPath}`).join(', ') || 'nothing'}`);
  },
});
