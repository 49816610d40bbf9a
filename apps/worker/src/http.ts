import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerMetrics } from './metrics';

export type HealthCheck = () => Promise<{ ok: boolean; details: Record<string, unknown> }>;

export interface WorkerHttpServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** `/metrics` (Prometheus text) and `/healthz` (200 when Postgres and Redis answer, else 503). */
export async function startHttpServer(opts: {
  port: number;
  host?: string;
  metrics: WorkerMetrics;
  health: HealthCheck;
}): Promise<WorkerHttpServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      opts.metrics
        .render()
        .then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body))
        .catch((err) =>
          res
            .writeHead(500, { 'content-type': 'text/plain' })
            .end(`metrics failed: ${(err as Error).message}\n`),
        );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      opts
        .health()
        .then((h) =>
          res
            .writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' })
            .end(JSON.stringify({ status: h.ok ? 'ok' : 'unhealthy', ...h.details })),
        )
        .catch((err) =>
          res
            .writeHead(503, { 'content-type': 'application/json' })
            .end(JSON.stringify({ status: 'unhealthy', error: (err as Error).message })),
        );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1'}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
