// A minimal Airbyte Protocol v0 connector for runtime tests, written as a bundled connector
// would be: one file, no dependencies. Config keys:
//   count      records `read` emits (default 10)
//   exitCode   exit with this code before any output (a connector that crashes on start)
//   sleepMs    wait this long before exiting (a long-running sync, to test stop)
import fs from 'node:fs';
import readline from 'node:readline';

const [command, ...rest] = process.argv.slice(2);
const flag = (name) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : undefined;
};
const emit = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);
const log = (message, level = 'INFO') => emit({ type: 'LOG', log: { level, message } });
const readJson = (file) => (file ? JSON.parse(fs.readFileSync(file, 'utf8')) : {});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const config = readJson(flag('config'));
if (Number.isInteger(config.exitCode)) {
  process.stderr.write(`fixture: failing on purpose with exit code ${config.exitCode}\n`);
  process.exit(config.exitCode);
}

const stream = {
  name: 'numbers',
  json_schema: { type: 'object', properties: { n: { type: 'integer' } } },
  supported_sync_modes: ['full_refresh'],
};

async function main() {
  switch (command) {
    case 'spec':
      emit({
        type: 'SPEC',
        spec: {
          documentationUrl: 'https://example.invalid/fixture',
          connectionSpecification: {
            type: 'object',
            properties: {
              count: { type: 'integer' },
              exitCode: { type: 'integer' },
              sleepMs: { type: 'integer' },
            },
          },
        },
      });
      break;
    case 'check':
      emit({ type: 'CONNECTION_STATUS', connectionStatus: { status: 'SUCCEEDED' } });
      break;
    case 'discover':
      emit({ type: 'CATALOG', catalog: { streams: [stream] } });
      break;
    case 'read': {
      const count = config.count ?? 10;
      process.stderr.write(`fixture: reading ${count} records\n`);
      log(`emitting ${count} records`);
      const now = Date.now();
      for (let n = 1; n <= count; n++) {
        const line = `${JSON.stringify({ type: 'RECORD', record: { stream: 'numbers', data: { n }, emitted_at: now } })}\n`;
        if (!process.stdout.write(line)) await new Promise((r) => process.stdout.once('drain', r));
      }
      emit({
        type: 'STATE',
        state: {
          type: 'STREAM',
          stream: { stream_descriptor: { name: 'numbers' }, stream_state: { n: count } },
        },
      });
      break;
    }
    case 'write': {
      let records = 0;
      const rl = readline.createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of rl) {
        if (!line.trim()) continue;
        const msg = JSON.parse(line);
        if (msg.type === 'RECORD') records++;
        else if (msg.type === 'STATE') emit(msg);
      }
      log(`received ${records} records`);
      break;
    }
    default:
      process.stderr.write(`fixture: unknown command ${command}\n`);
      process.exit(2);
  }
  if (config.sleepMs) await sleep(config.sleepMs);
}

main().catch((e) => {
  process.stderr.write(`fixture: ${e.stack}\n`);
  process.exit(1);
});
