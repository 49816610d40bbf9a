import { createClient, pickWorkspace } from '../client';
import { configPath, normalizeUrl, readConfig, writeConfig } from '../config';
import type { CliEnv } from '../env';
import { CliError } from '../errors';
import { type Io, readAll } from '../io';

export interface LoginOptions {
  url?: string | undefined;
  /** The token, or `true` (flag without a value) / `-`: read it from stdin. */
  token?: string | boolean | undefined;
  workspace?: string | undefined;
}

/** Checks the token against the server (auth.me) and saves server, token and workspace. */
export async function login(io: Io, env: CliEnv, opts: LoginOptions): Promise<number> {
  const saved = readConfig(env);
  const url = opts.url ?? env.SLUICE_URL ?? saved.url;
  if (!url) throw new CliError('which server? pass --url, e.g. --url http://localhost:3000');
  let token = typeof opts.token === 'string' && opts.token !== '-' ? opts.token : undefined;
  if (!token && (opts.token === true || opts.token === '-')) {
    if (io.stdin.isTTY) io.stderr.write('Paste your API token and press Ctrl-D: ');
    token = (await readAll(io.stdin)).trim();
  }
  token ??= env.SLUICE_TOKEN;
  if (!token)
    throw new CliError(
      'no token: pass --token <token> (or --token - to read it from stdin), or set SLUICE_TOKEN',
    );
  if (!token.startsWith('sluice_pat_')) {
    throw new CliError(
      'that is not a Sluice API token (they start with sluice_pat_): create one under Settings → API tokens',
    );
  }
  const client = createClient(url, token);
  const me = await client.auth.me.query();
  const workspaces = await client.workspace.list.query();
  const workspace =
    opts.workspace || workspaces.length === 1 ? pickWorkspace(workspaces, opts.workspace) : undefined;
  const file = writeConfig(env, {
    url: normalizeUrl(url),
    token,
    ...(workspace ? { workspaceId: workspace.id } : {}),
  });
  io.stdout.write(
    `Logged in to ${normalizeUrl(url)} as ${me.user.email}` +
      (workspace
        ? ` (workspace ${workspace.name})`
        : ` (${workspaces.length} workspaces: pick one with --workspace)`) +
      `.\nSaved to ${file}.\n`,
  );
  return 0;
}

export function logout(io: Io, env: CliEnv): number {
  const saved = readConfig(env);
  if (!saved.token) {
    io.stdout.write('Not logged in.\n');
    return 0;
  }
  const { token: _token, ...rest } = saved;
  writeConfig(env, rest);
  io.stdout.write(
    `Logged out: the token was removed from ${configPath(env)} (revoke it in Settings → API tokens).\n`,
  );
  return 0;
}
