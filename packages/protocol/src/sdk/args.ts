import { UsageError } from './errors';

export type ConnectorKind = 'source' | 'destination';

export type ConnectorCommand =
  | { command: 'spec' }
  | { command: 'check'; config: string }
  | { command: 'discover'; config: string }
  | { command: 'read'; config: string; catalog: string; state?: string }
  | { command: 'write'; config: string; catalog: string };

const COMMANDS: Record<ConnectorKind, Record<string, { required: string[]; optional: string[] }>> = {
  source: {
    spec: { required: [], optional: [] },
    check: { required: ['config'], optional: [] },
    discover: { required: ['config'], optional: [] },
    read: { required: ['config', 'catalog'], optional: ['state'] },
  },
  destination: {
    spec: { required: [], optional: [] },
    check: { required: ['config'], optional: [] },
    write: { required: ['config', 'catalog'], optional: [] },
  },
};

export function usage(kind: ConnectorKind): string {
  const lines = Object.entries(COMMANDS[kind]).map(([name, { required, optional }]) =>
    [name, ...required.map((o) => `--${o} FILE`), ...optional.map((o) => `[--${o} FILE]`)].join(' '),
  );
  return `usage:\n  ${lines.join('\n  ')}`;
}

/** Parses Airbyte's connector command line: `COMMAND --opt FILE …` (also `--opt=FILE`). */
export function parseArgs(kind: ConnectorKind, argv: readonly string[]): ConnectorCommand {
  const [command, ...rest] = argv;
  const shape = command === undefined ? undefined : COMMANDS[kind][command];
  if (command === undefined || shape === undefined) {
    const what = command === undefined ? 'no command given' : `unknown command "${command}"`;
    throw new UsageError(
      `${what}; a ${kind} accepts: ${Object.keys(COMMANDS[kind]).join(', ')}\n${usage(kind)}`,
    );
  }
  const allowed = new Set([...shape.required, ...shape.optional]);
  const values: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (!arg.startsWith('--'))
      throw new UsageError(`${command}: unexpected argument "${arg}"\n${usage(kind)}`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (!allowed.has(name)) throw new UsageError(`${command}: unknown option --${name}\n${usage(kind)}`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = rest[i + 1];
      i++;
    }
    if (value === undefined || value === '' || value.startsWith('--')) {
      throw new UsageError(`${command}: option --${name} needs a file path`);
    }
    if (name in values) throw new UsageError(`${command}: option --${name} given twice`);
    values[name] = value;
  }
  const missing = shape.required.filter((r) => !(r in values));
  if (missing.length > 0) {
    throw new UsageError(
      `${command}: missing ${missing.map((m) => `--${m} FILE`).join(', ')}\n${usage(kind)}`,
    );
  }
  return { command, ...values } as ConnectorCommand;
}
