// A stand-in middleware for the process runtime tests: runs the plan's connectors with
// spawnConnector, counts their records, and writes result.json and the environment it runs with
// (middleware.env.json). Modes (argv[2]):
//   run          exit once the connectors have ended
//   linger       stay alive afterwards
//   ignore-term  stay alive and ignore SIGTERM
// `--standby` waits for a handoff as the real middleware does, then runs the handed mode.
import fs from 'node:fs';
import readline from 'node:readline';
import type { LaunchPlan } from '../../types';
import { childConnectorStdio, spawnConnector } from '../spawn-connector';
import {
  awaitStandbyHandoff,
  becomeHandedWorkload,
  removeStandbyDir,
  STANDBY_FLAG,
} from '../standby-handoff';

let args = process.argv.slice(2);
if (args[0] === STANDBY_FLAG) {
  const handoff = await awaitStandbyHandoff();
  if (!handoff) {
    removeStandbyDir();
    process.exit(0);
  }
  args = becomeHandedWorkload(handoff);
}
fs.writeFileSync('middleware.env.json', JSON.stringify(process.env));
const mode = args[0] ?? 'run';
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
