import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface LauncherMetrics {
  registry: Registry;
  capacity: Gauge;
  running: Gauge;
  inflight: Gauge;
  claims: Counter<'outcome'>;
  launches: Counter<'type' | 'result'>;
  failures: Counter<'type' | 'cause'>;
  launchDuration: Histogram<'type'>;
  cancellations: Counter;
  swept: Counter;
}

/** One registry per launcher (tests run several in one process). */
export function createLauncherMetrics(labels: {
  launcher: string;
  runtime: string;
  group: string;
}): LauncherMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({
    launcher: labels.launcher,
    runtime: labels.runtime,
    dataplane_group: labels.group,
  });
  collectDefaultMetrics({ register: registry, prefix: 'sluice_launcher_' });
  const registers = [registry];
  return {
    registry,
    capacity: new Gauge({
      name: 'sluice_launcher_capacity',
      help: 'Workloads this launcher runs at once (SLUICE_LAUNCHER_CONCURRENCY)',
      registers,
    }),
    running: new Gauge({
      name: 'sluice_launcher_running_workloads',
      help: 'Workloads launched here whose programs are still running',
      registers,
    }),
    inflight: new Gauge({
      name: 'sluice_launcher_inflight_launches',
      help: 'Workloads being claimed or launched right now',
      registers,
    }),
    claims: new Counter({
      name: 'sluice_launcher_claims_total',
      help: 'Claim attempts by outcome: claimed, unavailable (taken or ended), blocked (mutex), shed (at capacity)',
      labelNames: ['outcome'],
      registers,
    }),
    launches: new Counter({
      name: 'sluice_launcher_launches_total',
      help: 'Workloads launched, by type; result=existing when their programs already existed',
      labelNames: ['type', 'result'],
      registers,
    }),
    failures: new Counter({
      name: 'sluice_launcher_launch_failures_total',
      help: 'Launches that failed, by type and cause (input, runtime, api)',
      labelNames: ['type', 'cause'],
      registers,
    }),
    launchDuration: new Histogram({
      name: 'sluice_launcher_launch_duration_seconds',
      help: 'From the claim to the launched report',
      labelNames: ['type'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
    cancellations: new Counter({
      name: 'sluice_launcher_cancellations_total',
      help: 'Cancelled workloads whose programs this launcher stopped',
      registers,
    }),
    swept: new Counter({
      name: 'sluice_launcher_swept_total',
      help: 'Leftover programs or containers of ended workloads removed',
      registers,
    }),
  };
}

export interface HealthReport {
  ok: boolean;
  [key: string]: unknown;
}

export interface MetricsServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** `/metrics` (Prometheus text) and `/healthz` (200 while healthy, 503 otherwise). */
export async function startMetricsServer(opts: {
  port: number;
  host: string;
  registry: Registry;
  health: () => HealthReport;
}): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (url === '/metrics') {
      opts.registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text))
        .catch((err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message));
      return;
    }
    if (url === '/healthz') {
      const report = opts.health();
      res
        .writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify(report));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  return {
    server,
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
