#!/usr/bin/env node
// A Prisma generator (JSON-RPC over stdio, replies on stderr) that writes the schema's DMMF
// to a JSON file. The schema-vs-database test compares the migrated database against it:
// Prisma 7's generated client no longer carries a full DMMF and @prisma/internals is not a
// dependency, so this is the supported way to get Prisma's own reading of the schema.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

function reply(id, result) {
  process.stderr.write(`${JSON.stringify({ jsonrpc: '2.0', id, result })}\n`);
}

createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  if (msg.method === 'getManifest') {
    reply(msg.id, {
      manifest: {
        prettyName: 'DMMF snapshot',
        defaultOutput: '../src/generated/dmmf.json',
        requiresEngines: [],
      },
    });
  } else if (msg.method === 'generate') {
    try {
      const out = msg.params.generator.output.value;
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, `${JSON.stringify(msg.params.dmmf.datamodel, null, 2)}\n`);
      reply(msg.id, null);
    } catch (err) {
      process.stderr.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: 1, message: String(err), data: {} } })}\n`,
      );
    }
  }
});
