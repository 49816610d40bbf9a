// A launcher stand-in for the standby tests: keeps one standby middleware of the command given
// (`standby-owner.ts ROOT COMMAND...`), prints its pid once it is ready, then idles until killed.
import { createLogger } from '@sluice/shared';
import { ProcessRuntime } from '../process-runtime';

const [root, ...command] = process.argv.slice(2);
const runtime = new ProcessRuntime({
  workloadsRoot: root!,
  logger: createLogger('standby-owner', { level: 'warn' }),
  standby: { command, count: 1 },
});
runtime.warm();
for (;;) {
  const [pid] = runtime.standbyPids();
  if (pid) {
    console.log(JSON.stringify({ standby: pid }));
    break;
  }
  await new Promise((r) => setTimeout(r, 20));
}
setInterval(() => {}, 1 << 30);
