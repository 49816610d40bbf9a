// A stand-in middleware for the process runtime tests: runs the plan's connectors with
// spawnConnector, counts their records, and writes result.json. Modes (argv[2]):
//   run          exit once the connectors have ended
//   linger       stay alive afterwards
//   ignore-term  stay alive and ignore SIGTERM
import fs from 'node:fs';
import readline from 'node:readline';
import type { LaunchPlan } from '../../types';
import { childConnectorStdio, spawnConnector } from '../spawn-connector';

const mode = process.argv[2] ?? 'run';
if (mode === 'ignore-term') process.on('SIGTERM', () => {});
console.log(`middleware ${process.pid} starting in ${mode} mode`);

const plan = JSON.parse(fs.readFileSync('plan.json', 'utf8')) as LaunchPlan;
const results: Record<string, { records: number; code: number }> = {};
await Promise.all(
  plan.connectors.map(async (program) => {
    const child = spawnConnector(program, process.cwd());
    fs.writeFileSync(`${program.role}.pid`, String(child.pid));
    const io = childConnectorStdio(child);
    io.stderr.resume();
    let records = 0;
    for await (const line of readline.createInterface({ input: io.stdout })) {
      if (line.includes('"type":"RECORD"')) records++;
    }
    results[program.role] = { records, code: await io.exit };
  }),
);
fs.writeFileSync('result.json.tmp', JSON.stringify(results));
fs.renameSync('result.json.tmp', 'result.json');
if (mode !== 'run') setInterval(() => {}, 1 << 30);
