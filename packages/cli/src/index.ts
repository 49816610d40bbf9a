import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { openSession } from './client';
import { apply } from './commands/apply';
import { jobs } from './commands/jobs';
import { login, logout } from './commands/login';
import { logs } from './commands/logs';
import { sync } from './commands/sync';
import { loadCliEnv } from './env';
import { CliError, describeCliError } from './errors';
import { table } from './format';
import { type Io, processIo } from './io';

export { applyFile, configDifferences, streamDifferences, summarize } from './apply/apply';
export { interpolate } from './apply/interpolate';
export { SluiceFile } from './apply/schema';
export { loadSluiceFile } from './commands/apply';
export { normalizeUrl } from './config';
export type { Io } from './io';
export { RateMeter, renderBar } from './progress';

const VERSION = '0.1.0';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number, 0 or more');
  return n;
}

/**
 * Runs `sluice <argv>` and resolves to the exit code. Errors are printed as one line on
 * stderr (`sluice: …`), never as a stack trace.
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  let code = 0;
  const program = new Command('sluice')
    .description('Sluice command line: log in, apply sluice.yaml, run syncs, read jobs and logs')
    .version(VERSION)
    .option('--url <url>', 'Sluice server (default: SLUICE_URL or the one saved by login)')
    .option(
      '-w, --workspace <workspace>',
      'workspace name, slug or id (default: SLUICE_WORKSPACE or the saved one)',
    )
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(s.startsWith('error:') ? `sluice: ${s.slice(7)}` : s),
    })
    .showHelpAfterError('(run `sluice --help` for usage)');

  const env = () => loadCliEnv(io.env);
  const session = () => openSession(env(), program.opts<{ url?: string; workspace?: string }>());

  program
    .command('login')
    .description('check an API token against the server and save it (~/.config/sluice/config.json)')
    .option('--token [token]', 'an API token (sluice_pat_…); `-` or no value reads it from stdin')
    .action(async (opts: { token?: string | boolean }) => {
      const g = program.opts<{ url?: string; workspace?: string }>();
      code = await login(io, env(), { url: g.url, workspace: g.workspace, token: opts.token });
    });

  program
    .command('logout')
    .description('forget the saved token')
    .action(() => {
      code = logout(io, env());
    });

  program
    .command('whoami')
    .description('who the token acts as, and its workspaces')
    .action(async () => {
      const s = session();
      const me = await s.client.auth.me.query();
      const all = await s.client.workspace.list.query();
      io.stdout.write(`${me.user.email} on ${s.url}${me.user.isInstanceAdmin ? ' (instance admin)' : ''}\n`);
      io.stdout.write(
        `${table(
          ['WORKSPACE', 'SLUG', 'ROLE', 'ID'],
          all.map((w) => [w.name, w.slug, w.role, w.id]),
        )}\n`,
      );
    });

  program
    .command('apply')
    .description('create or update sources, destinations and connections from a YAML file (idempotent)')
    .requiredOption('-f, --file <file>', 'the file, e.g. sluice.yaml (`-` reads stdin)')
    .option('--dry-run', 'print the plan, change nothing')
    .option(
      '--update-secrets',
      'send secret fields even when nothing else changed (secrets cannot be compared)',
    )
    .action(async (opts: { file: string; dryRun?: boolean; updateSecrets?: boolean }) => {
      code = await apply(io, session(), opts);
    });

  program
    .command('sync')
    .description('start a sync of a connection (by name or id)')
    .argument('<connection>', 'connection name or id')
    .option('--wait', 'follow it with a progress bar; exit non-zero if it fails')
    .addOption(
      new Option('--timeout <seconds>', 'with --wait: give up waiting after this long').argParser(
        positiveInt,
      ),
    )
    .action(async (ref: string, opts: { wait?: boolean; timeout?: number }) => {
      code = await sync(io, session(), ref, opts);
    });

  program
    .command('jobs')
    .description('list jobs, newest first')
    .option('-c, --connection <connection>', 'only this connection (name or id)')
    .addOption(new Option('-n, --limit <n>', 'how many').argParser(positiveInt).default(20))
    .addOption(
      new Option('--status <status...>', 'only these statuses').choices([
        'pending',
        'running',
        'incomplete',
        'failed',
        'succeeded',
        'cancelled',
      ]),
    )
    .option('--json', 'print JSON')
    .action(async (opts: { connection?: string; limit?: number; status?: string[]; json?: boolean }) => {
      code = await jobs(io, session(), opts);
    });

  program
    .command('logs')
    .description("print a job's attempt log")
    .argument('[job]', 'job id (default with --connection: its latest sync)')
    .option('-c, --connection <connection>', "the connection's latest sync or reset")
    .addOption(
      new Option('--attempt <n>', 'attempt number, from 0 (default: the latest)').argParser(nonNegativeInt),
    )
    .option('-f, --follow', 'keep printing while the attempt runs')
    .action(
      async (job: string | undefined, opts: { connection?: string; attempt?: number; follow?: boolean }) => {
        code = await logs(io, session(), job, opts);
      },
    );

  program
    .command('connections')
    .description('list connections')
    .action(async () => {
      const s = session();
      const ws = await s.workspace();
      const all = await s.client.connection.list.query({ workspaceId: ws.id });
      io.stdout.write(
        `${table(
          ['NAME', 'STATUS', 'SOURCE', 'DESTINATION', 'LAST SYNC', 'ID'],
          all.map((c) => [
            c.name,
            c.status,
            c.source.name,
            c.destination.name,
            c.latestSyncJob?.status ?? '-',
            c.id,
          ]),
        )}\n`,
      );
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0
        ? 0
        : err.exitCode || 2;
    }
    io.stderr.write(`sluice: ${describeCliError(err)}\n`);
    return err instanceof CliError ? err.code : 1;
  }
}
