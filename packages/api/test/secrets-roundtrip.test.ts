import { Writable } from 'node:stream';
import { createLogger } from '@sluice/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_MASK, SecretBox } from '../src/secrets';
import { type ApiHarness, startApiHarness } from '../src/testing/harness';
import { createWorkspaceWithUsers, expectTrpcError, seedFixtureDefinitions, sourceConfig } from './helpers';

const SECRET = 'Zq8-ultra-S3CRET-p4ss';
const SSH_KEY = 'ssh-ed25519-PRIVATE-material-991';
const NEW_SECRET = 'rotated-S3CRET-v2-Kx';

const logLines: string[] = [];
const processOutput: string[] = [];
let h: ApiHarness;
let restoreOutput: () => void;

/** Every form a secret could leak in: plain, JSON-escaped, base64 and base64url. */
function forms(secret: string): string[] {
  const b = Buffer.from(secret);
  return [secret, b.toString('base64').replace(/=+$/, ''), b.toString('base64url').replace(/=+$/, '')];
}

beforeAll(async () => {
  // Everything this process prints while the test runs (the API server runs in-process).
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture =
    (write: typeof out) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      processOutput.push(String(chunk));
      return (write as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = capture(out) as typeof process.stdout.write;
  process.stderr.write = capture(err) as typeof process.stderr.write;
  restoreOutput = () => {
    process.stdout.write = out;
    process.stderr.write = err;
  };
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  h = await startApiHarness({ logger: createLogger('api.secrets-test', { level: 'trace' }, sink) });
});

afterAll(async () => {
  restoreOutput?.();
  await h?.close();
});

describe('secret round trip', () => {
  it('encrypts at rest, masks in answers, keeps on masked update, and never leaks', async () => {
    const defs = await seedFixtureDefinitions(h.db);
    const { ws, editor } = await createWorkspaceWithUsers(h.db, 'Secrets');
    const c = h.client(editor.token);

    const created = await c.source.create.mutate({
      workspaceId: ws.id,
      definitionId: defs.sourceDef.id,
      name: 'Vault',
      config: sourceConfig({ password: SECRET, tunnel: { mode: 'ssh', ssh_key: SSH_KEY } }),
    });
    expect(created.config).toMatchObject({ password: SECRET_MASK, tunnel: { ssh_key: SECRET_MASK } });

    // The row holds ciphertext only.
    const row = await h.db.source.findUniqueOrThrow({ where: { id: created.id } });
    const stored = row.config as { password: string; tunnel: { ssh_key: string } };
    expect(SecretBox.isSealed(stored.password)).toBe(true);
    expect(SecretBox.isSealed(stored.tunnel.ssh_key)).toBe(true);
    const rowText = JSON.stringify(row.config);
    for (const f of [...forms(SECRET), ...forms(SSH_KEY)]) expect(rowText).not.toContain(f);
    expect(h.deps.box.open(stored.password)).toBe(SECRET);

    // Reads mask; an update that sends the mask back keeps the stored secret byte for byte.
    const read = await c.source.get.query({ sourceId: created.id });
    expect(read.config).toMatchObject({
      password: SECRET_MASK,
      tunnel: { mode: 'ssh', ssh_key: SECRET_MASK },
    });
    await c.source.update.mutate({
      sourceId: created.id,
      config: { ...read.config, host: 'moved.internal' },
    });
    const kept = (await h.db.source.findUniqueOrThrow({ where: { id: created.id } })).config as typeof stored;
    expect(kept.password).toBe(stored.password);
    expect(kept.tunnel.ssh_key).toBe(stored.tunnel.ssh_key);

    // Connector output that echoes the secret is scrubbed in results and attempt logs.
    await c.source.update.mutate({ sourceId: created.id, config: { ...read.config, check_result: 'fail' } });
    const failed = await c.source.check.mutate({ sourceId: created.id });
    expect(failed.message).toBe(`authentication failed for password ${SECRET_MASK}`);
    await c.job.attemptLog.query({ jobId: failed.jobId });
    await c.source.update.mutate({ sourceId: created.id, config: { ...read.config, check_result: 'crash' } });
    const crashed = await c.source.check.mutate({ sourceId: created.id });
    expect(crashed.message).toContain(SECRET_MASK);
    await c.job.attemptLog.query({ jobId: crashed.jobId });
    await c.job.get.query({ jobId: crashed.jobId });
    await c.job.list.query({ workspaceId: ws.id });

    // Error answers do not echo values, even when the secret is sent in the wrong place.
    await expectTrpcError(
      c.source.update.mutate({ sourceId: created.id, config: { ...read.config, port: SECRET } }),
      'BAD_REQUEST',
      { fieldPath: 'config.port' },
    );
    await expectTrpcError(
      c.source.update.mutate({ sourceId: created.id, config: { ...read.config, check_result: SECRET } }),
      'BAD_REQUEST',
      { fieldPath: 'config.check_result' },
    );
    await expectTrpcError(
      c.source.create.mutate({
        workspaceId: ws.id,
        definitionId: defs.sourceDef.id,
        name: SECRET.repeat(20),
        config: {},
      }),
      'BAD_REQUEST',
    );

    // A new secret replaces the old one.
    await c.source.update.mutate({ sourceId: created.id, config: { ...read.config, password: NEW_SECRET } });
    const rotated = (await h.db.source.findUniqueOrThrow({ where: { id: created.id } }))
      .config as typeof stored;
    expect(h.deps.box.open(rotated.password)).toBe(NEW_SECRET);
    expect(h.deps.box.open(rotated.tunnel.ssh_key)).toBe(SSH_KEY);
    await c.source.list.query({ workspaceId: ws.id });

    // Sanity: the captures saw the traffic, so the absence checks below mean something.
    expect(h.responseBodies.length).toBeGreaterThan(10);
    expect(logLines.join('')).toContain('check job finished');
    expect(h.responseBodies.join('\n')).toContain(SECRET_MASK);

    const everything = [...logLines, ...processOutput, ...h.responseBodies].join('\n');
    for (const f of [...forms(SECRET), ...forms(SSH_KEY), ...forms(NEW_SECRET)]) {
      expect(everything.includes(f), `leaked ${f}`).toBe(false);
    }
  });
});
