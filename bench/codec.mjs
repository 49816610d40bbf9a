#!/usr/bin/env node
// JSONL codec: decodes a large buffer of faker-shaped RECORD lines (a STATE every 1000) into
// validated AirbyteMessages, fed in 64 KiB chunks as a pipe would deliver them; also times the
// record fast path (type/stream/namespace without parsing data) over the same lines.
//   npm run bench -- codec [--mb N] [--no-build]
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const mbIndex = args.indexOf('--mb');
const targetBytes = (mbIndex === -1 ? 200 : Number(args[mbIndex + 1])) * 1e6;
const protocolDir = join(root, 'packages', 'protocol');
if (!args.includes('--no-build'))
  execFileSync('npx', ['tsup', '--silent'], { cwd: protocolDir, stdio: 'inherit' });
const { JsonlDecoder, peekRecordEnvelope, LineSplitter } = await import(
  pathToFileURL(join(protocolDir, 'dist', 'index.js')).href
);

// A deterministic corpus shaped like source-faker's users (about 600 bytes a line).
const words = ['Reda', 'Amelia', 'Oliver', 'Isla', 'Noah', 'Ava', 'Liam', 'Mia', 'Lucas', 'Sofia'];
let x = 12345;
const rand = (n) => {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  return x % n;
};
const parts = [];
let bytes = 0;
for (let i = 1; bytes < targetBytes; i++) {
  const data = {
    id: i,
    created_at: '2009-08-12T18:57:58+00:00',
    updated_at: '2012-07-02T08:32:31+00:00',
    name: words[rand(10)],
    title: 'M.Sc.Tech.',
    age: 18 + rand(60),
    email: `${words[rand(10)].toLowerCase()}${1950 + rand(50)}@protonmail.com`,
    telephone: `+1-(${rand(1000)})-${rand(1000)}-${rand(10000)}`,
    gender: 'Male',
    language: 'Tamil',
    academic_degree: 'Master',
    nationality: 'Italian',
    occupation: 'Word Processing Operator',
    height: '1.55',
    blood_type: 'B\u2212',
    weight: 40 + rand(80),
    address: {
      street_number: `${rand(9999)}`,
      street_name: 'Main Street',
      city: 'Springfield',
      state: 'Ohio',
      province: 'Ontario',
      postal_code: `${10000 + rand(89999)}`,
      country_code: 'US',
    },
  };
  let line = JSON.stringify({
    type: 'RECORD',
    record: { stream: 'users', data, emitted_at: 1669682107441 + i },
  });
  if (i % 1000 === 0) {
    line += `\n${JSON.stringify({ type: 'STATE', state: { type: 'STREAM', stream: { stream_descriptor: { name: 'users' }, stream_state: { id: i } } } })}`;
  }
  parts.push(line);
  bytes += line.length + 1;
}
const input = Buffer.from(`${parts.join('\n')}\n`);
const lineCount = parts.length;
parts.length = 0;
const CHUNK = 64 * 1024;

function decodeAll() {
  const decoder = new JsonlDecoder();
  let messages = 0;
  for (let i = 0; i < input.length; i += CHUNK) {
    for (const d of decoder.push(input.subarray(i, i + CHUNK))) {
      if (d.kind !== 'message') throw new Error(`line ${d.line}: ${d.kind} ${d.error}`);
      messages++;
    }
  }
  return messages + decoder.end().length;
}

function peekAll(options) {
  const splitter = new LineSplitter();
  let records = 0;
  const onLine = (buf, start, end) => {
    const env = peekRecordEnvelope(buf, start, end, options);
    if (env?.type === 'RECORD' && env.stream === 'users') records++;
  };
  for (let i = 0; i < input.length; i += CHUNK) splitter.push(input.subarray(i, i + CHUNK), onLine);
  splitter.end(onLine);
  return records;
}

function time(fn, rounds = 3) {
  fn(); // warm-up
  const seconds = [];
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    fn();
    seconds.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  seconds.sort((a, b) => a - b);
  return seconds[Math.floor(seconds.length / 2)];
}

const decodeSeconds = time(decodeAll);
const peekSeconds = time(() => peekAll({ validate: 'full' }));
// What the middleware uses: only the envelope is checked, `data` is skipped structurally.
const structureSeconds = time(() => peekAll({ validate: 'structure' }));
const mb = input.length / 1e6;
console.error(
  `${mb.toFixed(0)} MB, ${lineCount} lines: decode ${decodeSeconds.toFixed(2)} s, fast path ${peekSeconds.toFixed(2)} s, structure-only fast path ${structureSeconds.toFixed(2)} s`,
);
console.log(
  JSON.stringify({
    bench: 'codec',
    metric: 'mb_per_s',
    value: Number((mb / decodeSeconds).toFixed(1)),
    unit: 'MB/s',
  }),
);
console.log(
  JSON.stringify({
    bench: 'codec',
    metric: 'lines_per_s',
    value: Math.round(lineCount / decodeSeconds),
    unit: 'lines/s',
  }),
);
console.log(
  JSON.stringify({
    bench: 'codec',
    metric: 'fastpath_mb_per_s',
    value: Number((mb / peekSeconds).toFixed(1)),
    unit: 'MB/s',
  }),
);
console.log(
  JSON.stringify({
    bench: 'codec',
    metric: 'fastpath_structure_mb_per_s',
    value: Number((mb / structureSeconds).toFixed(1)),
    unit: 'MB/s',
  }),
);
