import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { CliEnv } from './env';
import { CliError } from './errors';

/** ~/.config/sluice/config.json: the server, the token and the default workspace. */
export const CliConfig = z.object({
  url: z.string().optional(),
  token: z.string().optional(),
  workspaceId: z.string().optional(),
});
export type CliConfig = z.infer<typeof CliConfig>;

export function configDir(env: CliEnv): string {
  if (env.SLUICE_CONFIG_DIR) return env.SLUICE_CONFIG_DIR;
  const base = env.XDG_CONFIG_HOME ?? path.join(env.HOME ?? os.homedir(), '.config');
  return path.join(base, 'sluice');
}

export const configPath = (env: CliEnv) => path.join(configDir(env), 'config.json');

export function readConfig(env: CliEnv): CliConfig {
  const file = configPath(env);
  if (!fs.existsSync(file)) return {};
  try {
    return CliConfig.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch (err) {
    throw new CliError(`${file} is not a valid Sluice config (${(err as Error).message}): fix or delete it`);
  }
}

/** Written 0600 in a 0700 directory: the token is a credential. */
export function writeConfig(env: CliEnv, config: CliConfig): string {
  const dir = configDir(env);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = configPath(env);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
  fs.chmodSync(file, 0o600);
  return file;
}

/** The server's base URL (`http://host:3000`) from what a user typed (with or without /api/trpc). */
export function normalizeUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CliError(`${url} is not a URL: use e.g. http://localhost:3000`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new CliError(`${url}: only http and https URLs`);
  const p = u.pathname.replace(/\/+$/, '').replace(/\/api\/trpc$/, '');
  return `${u.origin}${p}`;
}
