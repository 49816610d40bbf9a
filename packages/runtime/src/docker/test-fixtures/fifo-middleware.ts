// A stand-in middleware for the docker runtime tests, bundled into one file and run in its own
// container: it attaches to the connectors' pipes with attachFifoConnector, routes the source's
// RECORD and STATE messages to the destination (when there is one), and writes what it saw.
// argv: <workDir> <resultFile> <source|source+destination>
import fs from 'node:fs';
import readline from 'node:readline';
import { attachFifoConnector } from '../fifo';

const [workDir, resultFile, roles] = process.argv.slice(2) as [string, string, string];
const withDestination = roles.includes('destination');

const source = attachFifoConnector(workDir, 'source', { startTimeoutMs: 60_000 });
const destination = withDestination
  ? attachFifoConnector(workDir, 'destination', { stdin: true, startTimeoutMs: 60_000 })
  : undefined;

const text = (s: NodeJS.ReadableStream) =>
  new Promise<string>((resolve) => {
    let out = '';
    s.on('data', (d) => {
      out += d;
    });
    s.on('end', () => resolve(out));
    s.on('close', () => resolve(out));
  });

const sourceStderr = text(source.stderr);
const destinationStderr = destination ? text(destination.stderr) : Promise.resolve('');
const destinationOut = destination
  ? (async () => {
      const lines: string[] = [];
      for await (const line of readline.createInterface({ input: destination.stdout })) lines.push(line);
      return lines;
    })()
  : Promise.resolve([]);
destination?.stdin?.on('error', () => {}); // the destination's exit code tells what went wrong

let records = 0;
for await (const line of readline.createInterface({ input: source.stdout })) {
  const isRecord = line.includes('"type":"RECORD"');
  if (isRecord) records++;
  if (destination?.stdin && (isRecord || line.includes('"type":"STATE"'))) {
    if (!destination.stdin.write(`${line}\n`)) await new Promise((r) => destination.stdin!.once('drain', r));
  }
}
destination?.stdin?.end();

const result = {
  source: { records, code: await source.exit, stderr: await sourceStderr },
  ...(destination
    ? {
        destination: {
          lines: await destinationOut,
          code: await destination.exit,
          stderr: await destinationStderr,
        },
      }
    : {}),
};
fs.writeFileSync(`${resultFile}.tmp`, JSON.stringify(result));
fs.renameSync(`${resultFile}.tmp`, resultFile);
