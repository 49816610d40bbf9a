import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { type ApiDeps, createContextFactory } from './context';
import { appRouter } from './root';

export const TRPC_ENDPOINT = '/api/trpc';

/** A fetch-API handler for `/api/trpc/*`: the Next.js route handler calls it. */
export function createTrpcFetchHandler(deps: ApiDeps) {
  const createContext = createContextFactory(deps);
  return (req: Request) =>
    fetchRequestHandler({
      endpoint: TRPC_ENDPOINT,
      req,
      router: appRouter,
      createContext: ({ req, resHeaders }) => createContext({ req, resHeaders }),
    });
}

async function toRequest(req: IncomingMessage, origin: string): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (Array.isArray(v)) for (const item of v) headers.append(k, item);
    else if (v !== undefined) headers.set(k, v);
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  return new Request(new URL(req.url ?? '/', origin), {
    method: req.method ?? 'GET',
    headers,
    ...(hasBody ? { body: Buffer.concat(chunks) } : {}),
  });
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    if (key === 'set-cookie') return;
    headers[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers['set-cookie'] = cookies;
  res.writeHead(response.status, headers);
  res.end(Buffer.from(await response.arrayBuffer()));
}

export interface ApiServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/**
 * The same API without Next.js: for tests, for the CLI's tests, and for a dataplane-only
 * deployment. Serves `/api/trpc/*` on the given port (0 picks a free one).
 */
export async function startApiServer(
  deps: ApiDeps,
  opts: { port?: number; host?: string } = {},
): Promise<ApiServer> {
  const handler = createTrpcFetchHandler(deps);
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    const origin = `http://${req.headers.host ?? host}`;
    if (!req.url?.startsWith(TRPC_ENDPOINT)) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    toRequest(req, origin)
      .then(handler)
      .then((response) => send(res, response))
      .catch((err) => {
        deps.logger.error({ err }, 'api server request failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host}:${port}${TRPC_ENDPOINT}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
