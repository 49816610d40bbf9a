// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the sluice.yaml placeholder syntax under test
// The `sluice` command line (the bundled bin) against the running stack: the web app serving
// the API, a worker and a launcher running real syncs (apps/web/test/support/stack.ts).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  definitionId,
  registerVaultConnector,
  type Stack,
  startStack,
  waitFor,
} from '../../../apps/web/test/support/stack';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/sluice.js');
const VAULT_PASSWORD = `cli-pw-${Math.random().toString(36).slice(2)}`;
const VAULT_KEY = `cli-key-${Math.random().toString(36).slice(2)}`;

let stack: Stack;
let home: string;
let ws: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sluice(args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: home, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

const yamlFile = (name: string, text: string) => {
  const file = path.join(stack.tmp, name);
  fs.writeFileSync(file, text);
  return file;
};

function pipelineYaml(count: string) {
  return `
sources:
  - name: Faker
    connector: source-faker
    config:
      count: ${count}
  - name: Vault
    connector: Vault (test fixture)
    config:
      host: vault.internal
      password: \${VAULT_PASSWORD}
      auth:
        method: api_key
        api_key: \${VAULT_KEY}
destinations:
  - name: Files
    connector: destination-local-jsonl
    config:
      destination_path: \${OUT_DIR}
connections:
  - name: Faker to files
    source: Faker
    destination: Files
    schedule: { type: cron, expression: "0 0 3 * * ?", timeZone: Europe/Paris }
    namespaceDefinition: customformat
    namespaceFormat: \${SOURCE_NAMESPACE}_raw
    streams:
      - name: users
        syncMode: full_refresh
        destinationSyncMode: overwrite
`;
}

beforeAll(async () => {
  stack = await startStack({ name: 'cli' });
  ws = stack.admin.workspaceId;
  home = path.join(stack.tmp, 'home');
  fs.mkdirSync(home);
  await registerVaultConnector(stack);
});

afterAll(async () => {
  await stack?.close();
});

describe('sluice', () => {
  it('logs in with a token, saves it 0600, and refuses a bad one in words', async () => {
    const bad = await sluice(['login', '--url', stack.url, '--token', 'sluice_pat_not-a-real-token']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^sluice: .*sluice login/m);

    const viaStdin = await sluice(['login', '--url', stack.url, '--token', '-'], {
      stdin: `${stack.admin.token}\n`,
    });
    expect(viaStdin.stderr).toBe('');
    expect(viaStdin.code).toBe(0);
    const ok = await sluice(['login', '--url', `${stack.url}/api/trpc`, '--token', stack.admin.token]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`Logged in to ${stack.url} as ${stack.admin.email} (workspace Default)`);
    const file = path.join(home, '.config/sluice/config.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({
      url: stack.url,
      token: stack.admin.token,
      workspaceId: ws,
    });

    const who = await sluice(['whoami']);
    expect(who.code).toBe(0);
    expect(who.stdout).toContain(stack.admin.email);
    expect(who.stdout).toContain('Default');
    // The environment overrides the saved server: an unreachable one is said in words.
    const down = await sluice(['whoami'], { env: { SLUICE_URL: 'http://127.0.0.1:9' } });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/sluice: cannot reach the Sluice server/);
  });

  it('applies sluice.yaml: secrets from the environment, idempotent, and says what changed', async () => {
    const out = path.join(stack.tmp, 'out');
    const file = yamlFile('sluice.yaml', pipelineYaml('${FAKER_COUNT}'));
    const env = { VAULT_PASSWORD, VAULT_KEY, OUT_DIR: out, FAKER_COUNT: '12' };

    const { VAULT_KEY: _unset, ...withoutKey } = env;
    const missing = await sluice(['apply', '-f', file], { env: withoutKey });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'sluice: environment variable VAULT_KEY is not set (used in sources[1].config.auth.api_key)\n',
    );
    expect(await stack.client.source.list.query({ workspaceId: ws })).toEqual([]);

    const plan = await sluice(['apply', '-f', file, '--dry-run'], { env });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('Plan: 4 to create, 0 to update, 0 unchanged (dry run: nothing changed).');
    expect(await stack.client.source.list.query({ workspaceId: ws })).toEqual([]);

    const first = await sluice(['apply', '-f', file], { env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('+ source "Faker": create (source-faker)');
    expect(first.stdout).toContain('+ connection "Faker to files": create (Faker → Files)');
    expect(first.stdout).toContain('Applied: 4 created, 0 updated, 0 unchanged.');

    const [conn] = await stack.client.connection.list.query({ workspaceId: ws });
    expect(conn).toMatchObject({
      name: 'Faker to files',
      schedule: { type: 'cron', expression: '0 0 3 * * ?', timeZone: 'Europe/Paris' },
      namespaceFormat: '${SOURCE_NAMESPACE}_raw',
    });
    expect(conn!.catalog.streams.filter((s) => s.selected).map((s) => s.stream.name)).toEqual(['users']);
    const vault = (await stack.client.source.list.query({ workspaceId: ws })).find(
      (s) => s.name === 'Vault',
    )!;
    expect(vault.config).toMatchObject({ password: '**********', auth: { api_key: '**********' } });
    const row = await stack.db.source.findUniqueOrThrow({ where: { id: vault.id } });
    expect(JSON.stringify(row.config)).not.toContain(VAULT_PASSWORD);

    const again = await sluice(['apply', '-f', file], { env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('No changes: 4 objects already match the file.');
    const unchanged = await stack.client.connection.get.query({ connectionId: conn!.id });
    expect(unchanged.updatedAt).toBe(conn!.updatedAt);

    const changed = await sluice(['apply', '-f', file], { env: { ...env, FAKER_COUNT: '30' } });
    expect(changed.code).toBe(0);
    expect(changed.stdout).toContain('~ source "Faker": update config.count');
    expect(changed.stdout).toContain('Applied: 0 created, 1 updated, 3 unchanged.');

    const bad = await sluice([
      'apply',
      '-f',
      yamlFile('bad.yaml', 'sources:\n  - name: X\n    connector: nope\n'),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/sources\[0\] \(X\): no source connector "nope" \(available: .*source-faker/);
  });

  it('syncs with --wait and a progress bar, and exits non-zero with the reason when a sync fails', async () => {
    const ok = await sluice(['sync', 'Faker to files', '--wait']);
    expect(ok.stderr).toMatch(/^Sync started: job [0-9a-f-]{36} \(Faker to files\)$/m);
    expect(ok.stderr).toMatch(/\[[#.]+\] .*records .*rows\/s/);
    expect(ok.stdout).toMatch(/^Sync succeeded: 30 records committed/m);
    expect(ok.code).toBe(0);
    // namespaceFormat `${SOURCE_NAMESPACE}_raw` on a stream without a namespace: `_raw__users.jsonl`.
    const written = fs.readdirSync(path.join(stack.tmp, 'out'));
    expect(written).toEqual(['_raw__users.jsonl']);
    expect(
      fs
        .readFileSync(path.join(stack.tmp, 'out', written[0]!), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(30);

    const sink = await stack.client.destination.create.mutate({
      workspaceId: ws,
      definitionId: await definitionId(stack, 'destination-dev-null'),
      name: 'Failing sink',
      config: { fail_after_records: 3 },
    });
    const faker = (await stack.client.source.list.query({ workspaceId: ws })).find(
      (s) => s.name === 'Faker',
    )!;
    await stack.client.connection.create.mutate({
      workspaceId: ws,
      sourceId: faker.id,
      destinationId: sink.id,
      name: 'Faker to failing sink',
      catalog: {
        streams: [{ stream: { name: 'users' }, syncMode: 'full_refresh', destinationSyncMode: 'overwrite' }],
      },
    });
    const failed = await sluice(['sync', 'Faker to failing sink', '--wait']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^Sync failed: /m);
    expect(failed.stderr).toMatch(/sluice: the sync failed: failing after 3 records, as configured/);

    const unknown = await sluice(['sync', 'No such connection']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('sluice: no connection "No such connection" in this workspace');
  });

  it('lists jobs as a table or JSON, and prints and follows attempt logs', async () => {
    const list = await sluice(['jobs']);
    expect(list.code).toBe(0);
    const [header, ...rows] = list.stdout.trim().split('\n');
    expect(header).toMatch(
      /^JOB\s+TYPE\s+STATUS\s+FOR\s+STARTED \(UTC\)\s+DURATION\s+RECORDS\s+BYTES\s+ATTEMPTS\s+REASON$/,
    );
    expect(rows.some((r) => /\bsync\s+succeeded\s+Faker to files\b.*\b30\b/.test(r))).toBe(true);
    expect(
      rows.some((r) => /\bsync\s+failed\s+Faker to failing sink\b.*failing after 3 records/.test(r)),
      list.stdout,
    ).toBe(true);

    const json = await sluice(['jobs', '--connection', 'Faker to files', '--json']);
    const items = JSON.parse(json.stdout) as Array<{
      type: string;
      status: string;
      totals: { recordsCommitted: number };
    }>;
    expect(items.every((j) => j.type === 'sync')).toBe(true);
    expect(items[0]).toMatchObject({ status: 'succeeded', totals: { recordsCommitted: 30 } });

    const started = await sluice(['sync', 'Faker to files']);
    expect(started.code).toBe(0);
    const jobId = started.stdout.trim();
    const follow = await sluice(['logs', jobId, '--follow']);
    expect(follow.code).toBe(0);
    expect(follow.stdout.length).toBeGreaterThan(0);
    const job = await stack.client.job.get.query({ jobId });
    expect(job.status).toBe('succeeded');

    const latest = await sluice(['logs', '--connection', 'Faker to files']);
    expect(latest.code).toBe(0);
    // Following printed every line of the finished log (chunks of different writers may
    // arrive out of order).
    const lines = (t: string) =>
      t
        .split('\n')
        .filter((l) => l && !/^--- attempt \d+ ---$/.test(l))
        .sort();
    expect(lines(follow.stdout)).toEqual(lines(latest.stdout));
    const none = await sluice(['logs']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('sluice: which job?');
    await waitFor('no running job', async () => {
      const page = await stack.client.job.list.query({ workspaceId: ws, statuses: ['running', 'pending'] });
      return page.items.length === 0;
    });
  });
});
