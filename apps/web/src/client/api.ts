'use client';

import type { AppRouter } from '@sluice/api';
import { createTRPCClient, createTRPCUntypedClient, httpBatchLink, httpLink } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';

/**
 * The dashboard's tRPC client: same origin, the session cookie rides along. TanStack Query
 * holds the answers (see hooks.ts); this stays a plain client so any call site can also
 * `await` a procedure directly.
 */
export const api = createTRPCClient<AppRouter>({
  links: [httpBatchLink({ url: '/api/trpc', maxURLLength: 4000 })],
});

/**
 * For procedures this dashboard expects but the server may not have yet (the fleet views):
 * an unknown path answers NOT_FOUND, which the page shows as "not available on this server".
 */
export const untypedApi = createTRPCUntypedClient({ links: [httpLink({ url: '/api/trpc' })] });

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type RouterInputs = inferRouterInputs<AppRouter>;

export type Me = RouterOutputs['auth']['me'];
export type Workspace = RouterOutputs['workspace']['list'][number];
export type Definition = RouterOutputs['definition']['list'][number];
export type DefinitionWithSpec = RouterOutputs['definition']['get'];
export type Actor = RouterOutputs['source']['get'];
export type Connection = RouterOutputs['connection']['get'];
export type ConnectionStream = Connection['catalog']['streams'][number];
export type ConnectionSchedule = Connection['schedule'];
export type Job = RouterOutputs['job']['get'];
export type Attempt = Job['attempts'][number];
export type CheckResult = RouterOutputs['source']['check'];
export type DiscoverResult = RouterOutputs['source']['discover'];
export type SchemaChange = NonNullable<RouterOutputs['connection']['schemaChange']['schemaChange']>;
export type QueueDepth = RouterOutputs['workload']['admin']['queueDepth'][number];
export type ApiToken = RouterOutputs['workspace']['tokens']['list'][number];
export type Member = RouterOutputs['workspace']['members']['list'][number];
