import type { AppRouter } from '@sluice/api';
import { createTRPCClient, httpLink, type TRPCClient } from '@trpc/client';
import type { inferRouterOutputs } from '@trpc/server';
import { type CliConfig, normalizeUrl, readConfig } from './config';
import type { CliEnv } from './env';
import { CliError } from './errors';

export type Client = TRPCClient<AppRouter>;
export type Outputs = inferRouterOutputs<AppRouter>;
export type Job = Outputs['job']['get'];
export type Connection = Outputs['connection']['get'];
export type Workspace = Outputs['workspace']['list'][number];

export function createClient(url: string, token: string | undefined): Client {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${normalizeUrl(url)}/api/trpc`,
        headers: () => ({
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          'user-agent': 'sluice-cli',
        }),
      }),
    ],
  });
}

export interface Session {
  url: string;
  token: string;
  client: Client;
  config: CliConfig;
  /** Resolves `--workspace` / SLUICE_WORKSPACE / the saved one / the only one. */
  workspace(): Promise<Workspace>;
}

/** The server and token from flags, environment or config file (in that order). */
export function openSession(
  env: CliEnv,
  flags: { url?: string | undefined; workspace?: string | undefined },
): Session {
  const config = readConfig(env);
  const url = flags.url ?? env.SLUICE_URL ?? config.url;
  const token = env.SLUICE_TOKEN ?? config.token;
  if (!url)
    throw new CliError('no Sluice server: run `sluice login --url <url> --token <token>` or set SLUICE_URL');
  if (!token) throw new CliError('not logged in: run `sluice login --token <token>` or set SLUICE_TOKEN');
  const client = createClient(url, token);
  let cached: Promise<Workspace> | undefined;
  const wanted = flags.workspace ?? env.SLUICE_WORKSPACE;
  return {
    url: normalizeUrl(url),
    token,
    client,
    config,
    workspace: () => {
      cached ??= (async () => {
        const all = await client.workspace.list.query();
        return pickWorkspace(all, wanted ?? config.workspaceId);
      })();
      return cached;
    },
  };
}

export function pickWorkspace(all: Workspace[], wanted: string | undefined): Workspace {
  if (wanted) {
    const found = all.find((w) => w.id === wanted || w.slug === wanted || w.name === wanted);
    if (!found) {
      throw new CliError(
        `no workspace "${wanted}" for this token (available: ${all.map((w) => w.name).join(', ') || 'none'})`,
      );
    }
    return found;
  }
  if (all.length === 1) return all[0]!;
  if (all.length === 0) throw new CliError('this token has no workspace');
  throw new CliError(
    `this token reaches ${all.length} workspaces: pick one with --workspace (${all.map((w) => w.name).join(', ')})`,
  );
}

/** A connection by id or exact name. */
export async function findConnection(client: Client, workspaceId: string, ref: string): Promise<Connection> {
  const all = await client.connection.list.query({ workspaceId });
  const found = all.filter((c) => c.id === ref || c.name === ref);
  if (found.length === 1) return found[0]!;
  if (found.length > 1) throw new CliError(`${found.length} connections are named "${ref}": use the id`);
  throw new CliError(
    `no connection "${ref}" in this workspace (have: ${all.map((c) => c.name).join(', ') || 'none'})`,
  );
}
