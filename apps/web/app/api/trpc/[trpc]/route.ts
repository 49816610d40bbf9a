import { createTrpcFetchHandler } from '@sluice/api';
import { getApiDeps } from '../../../../src/deps';

// The API talks to Postgres and spawns connector processes: Node.js only, never cached.
export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

let handler: ((req: Request) => Promise<Response>) | undefined;

function handle(req: Request): Promise<Response> {
  handler ??= createTrpcFetchHandler(getApiDeps());
  return handler(req);
}

export { handle as GET, handle as POST };
