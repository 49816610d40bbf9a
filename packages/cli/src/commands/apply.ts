import fs from 'node:fs';
import { parseDocument } from 'yaml';
import { applyFile, describeChange, summarize } from '../apply/apply';
import { interpolate } from '../apply/interpolate';
import { SluiceFile } from '../apply/schema';
import type { Session } from '../client';
import { pickWorkspace } from '../client';
import { CliError } from '../errors';
import type { Io } from '../io';

export interface ApplyCommandOptions {
  file: string;
  dryRun?: boolean;
  updateSecrets?: boolean;
}

/** Reads sluice.yaml, fills `${VAR}` from the environment, validates it, names what is wrong. */
export function loadSluiceFile(
  text: string,
  file: string,
  env: Record<string, string | undefined>,
): SluiceFile {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new CliError(`${file}: ${doc.errors[0]!.message}`);
  const raw = interpolate(doc.toJS() ?? {}, env);
  const parsed = SluiceFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
      .join('');
    throw new CliError(`${file}: ${at ? `${at}: ` : ''}${issue.message}`);
  }
  return parsed.data;
}

export async function apply(io: Io, session: Session, opts: ApplyCommandOptions): Promise<number> {
  let text: string;
  try {
    text =
      opts.file === '-'
        ? await new Response(io.stdin as unknown as ReadableStream).text()
        : fs.readFileSync(opts.file, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read ${opts.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const file = loadSluiceFile(text, opts.file, io.env);
  const ws = file.workspace
    ? pickWorkspace(await session.client.workspace.list.query(), file.workspace)
    : await session.workspace();
  io.stdout.write(
    `${opts.dryRun ? 'Planning' : 'Applying'} ${opts.file} to workspace ${ws.name} (${session.url})\n`,
  );
  const changes = await applyFile(session.client, ws.id, file, {
    dryRun: Boolean(opts.dryRun),
    updateSecrets: Boolean(opts.updateSecrets),
    log: (line) => io.stdout.write(`${line}\n`),
  });
  for (const c of changes) io.stdout.write(`${describeChange(c)}\n`);
  io.stdout.write(`${summarize(changes, Boolean(opts.dryRun))}\n`);
  return 0;
}
