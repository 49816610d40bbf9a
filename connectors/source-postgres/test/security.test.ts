import { type Message, runConnector, scratchDir } from '@sluice/protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from './cluster';
import { BIN, configure, logs, Runner, records } from './helpers';
import { type Sshd, startSshd } from './sshd';

// SSL modes against a cluster of this file's own (ssl=on, a test CA, pg_hba rules per user),
// and the SSH tunnel through an sshd of its own.

let cluster: Cluster;
let sshd: Sshd;
const files = scratchDir('sluice-srcpg-sec-');

const base = () => ({ host: '127.0.0.1', port: cluster.port, database: 'app', username: 'postgres' });

/** `check` with a config: the status and what the connector logged (it logs whether SSL is on). */
async function check(config: Record<string, unknown>) {
  const r = await runConnector(BIN, new Runner(files, config).args('check'));
  const status = r.messages.find((m: Message) => m.type === 'CONNECTION_STATUS')!.connectionStatus;
  return {
    status: status.status as string,
    message: (status.message ?? '') as string,
    log: logs(r.messages),
  };
}

beforeAll(async () => {
  cluster = await startCluster({
    ssl: true,
    hba: [
      'hostssl all sslonly 127.0.0.0/8 trust',
      'hostnossl all sslonly 127.0.0.0/8 reject',
      'hostssl all certuser 127.0.0.0/8 cert',
      'hostnossl all certuser 127.0.0.0/8 reject',
    ],
  });
  await cluster.query('CREATE DATABASE app');
  await cluster.query(
    `CREATE USER sslonly; CREATE USER certuser;
     CREATE TABLE "Tunnel ""T""" (id int PRIMARY KEY, v text); INSERT INTO "Tunnel ""T""" SELECT g, 'v' || g FROM generate_series(1, 10) g;
     GRANT SELECT ON ALL TABLES IN SCHEMA public TO sslonly, certuser`,
    [],
    'app',
  );
  sshd = await startSshd();
});

afterAll(async () => {
  cluster?.stop();
  await sshd?.stop();
  files.remove();
});

describe('SSL modes', () => {
  it('disable, prefer and require', async () => {
    const off = await check({ ...base(), ssl_mode: { mode: 'disable' } });
    expect(off).toMatchObject({ status: 'SUCCEEDED' });
    expect(off.log).toContain('(ssl: off)');
    const prefer = await check({ ...base(), ssl_mode: { mode: 'prefer' } });
    expect(prefer.log).toContain('(ssl: on)');
    const require = await check({ ...base(), ssl_mode: { mode: 'require' } });
    expect(require.log).toContain('(ssl: on)');
    // The machine's own server has SSL off: prefer falls back, require fails.
    const plainServer = { host: '127.0.0.1', port: 5432, database: 'postgres', username: 'postgres' };
    const fallback = await check({ ...plainServer, ssl_mode: { mode: 'prefer' } });
    expect(fallback).toMatchObject({ status: 'SUCCEEDED' });
    expect(fallback.log).toContain('(ssl: off)');
    const refused = await check({ ...plainServer, ssl_mode: { mode: 'require' } });
    expect(refused.status).toBe('FAILED');
    expect(refused.message).toMatch(/SSL \(require\).*does not support SSL/);
  });

  it('allow connects in plain, and with TLS when the server insists', async () => {
    const plain = await check({ ...base(), ssl_mode: { mode: 'allow' } });
    expect(plain.log).toContain('(ssl: off)');
    const insisted = await check({ ...base(), username: 'sslonly', ssl_mode: { mode: 'allow' } });
    expect(insisted).toMatchObject({ status: 'SUCCEEDED' });
    expect(insisted.log).toContain('(ssl: on)');
    const disabled = await check({ ...base(), username: 'sslonly', ssl_mode: { mode: 'disable' } });
    expect(disabled.status).toBe('FAILED');
    expect(disabled.message).toContain('no encryption');
  });

  it('verify-ca checks the authority; verify-full also the host name', async () => {
    const ca = cluster.certs!.ca;
    expect(await check({ ...base(), ssl_mode: { mode: 'verify-ca', ca_certificate: ca } })).toMatchObject({
      status: 'SUCCEEDED',
    });
    const wrongCa = await check({
      ...base(),
      ssl_mode: { mode: 'verify-ca', ca_certificate: cluster.certs!.otherCa },
    });
    expect(wrongCa.status).toBe('FAILED');
    expect(wrongCa.message).toMatch(/SSL \(verify-ca\).*certificate/);
    // The certificate names 127.0.0.2, not 127.0.0.1.
    const wrongName = await check({ ...base(), ssl_mode: { mode: 'verify-full', ca_certificate: ca } });
    expect(wrongName.status).toBe('FAILED');
    expect(wrongName.message).toMatch(/SSL \(verify-full\).*(altnames|IP)/);
    const rightName = await check({
      ...base(),
      host: '127.0.0.2',
      ssl_mode: { mode: 'verify-full', ca_certificate: ca },
    });
    expect(rightName).toMatchObject({ status: 'SUCCEEDED' });
    expect(rightName.log).toContain('(ssl: on)');
  });

  it('authenticates with a client certificate', async () => {
    const { ca, clientCert, clientKey } = cluster.certs!;
    const config = {
      ...base(),
      host: '127.0.0.2',
      username: 'certuser',
      ssl_mode: {
        mode: 'verify-full',
        ca_certificate: ca,
        client_certificate: clientCert,
        client_key: clientKey,
      },
    };
    expect(await check(config)).toMatchObject({ status: 'SUCCEEDED' });
    const run = new Runner(files, config);
    const r = await run.read(configure(await run.discover(), [{ name: 'Tunnel "T"' }]));
    expect(records(r.messages)).toHaveLength(10);
    const noCert = await check({ ...config, ssl_mode: { mode: 'verify-full', ca_certificate: ca } });
    expect(noCert.status).toBe('FAILED');
    expect(noCert.message).toContain('certificate');
  });
});

describe('SSH tunnel', () => {
  const tunnel = (extra: Record<string, unknown>) => ({
    tunnel_host: '127.0.0.1',
    tunnel_port: sshd.port,
    tunnel_user: 'root',
    ...extra,
  });

  it('reads through the bastion with key authentication', async () => {
    const config = {
      ...base(),
      ssl_mode: { mode: 'disable' },
      tunnel_method: tunnel({ tunnel_method: 'SSH_KEY_AUTH', ssh_key: sshd.privateKey.trimEnd() }),
      parallel_readers: 2,
    };
    expect(await check(config)).toMatchObject({ status: 'SUCCEEDED' });
    const run = new Runner(files, config);
    const r = await run.read(configure(await run.discover(), [{ name: 'Tunnel "T"' }]));
    expect(
      records(r.messages)
        .map((x) => x.data.id)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    // The bastion opened the channels to the database.
    expect(sshd.log()).toMatch(
      new RegExp(`direct-tcpip.*127\\.0\\.0\\.1.*${cluster.port}|to 127\\.0\\.0\\.1 port ${cluster.port}`),
    );
  });

  it('verifies the database certificate against the real host name through the tunnel', async () => {
    const config = {
      ...base(),
      host: '127.0.0.2',
      ssl_mode: { mode: 'verify-full', ca_certificate: cluster.certs!.ca },
      tunnel_method: tunnel({ tunnel_method: 'SSH_KEY_AUTH', ssh_key: sshd.privateKey }),
    };
    const ok = await check(config);
    expect(ok).toMatchObject({ status: 'SUCCEEDED' });
    expect(ok.log).toContain('(ssl: on)');
  });

  it('says when the bastion refuses the key or the password', async () => {
    const badKey = await check({
      ...base(),
      tunnel_method: tunnel({ tunnel_method: 'SSH_KEY_AUTH', ssh_key: sshd.otherKey }),
    });
    expect(badKey.status).toBe('FAILED');
    expect(badKey.message).toBe(
      `SSH tunnel: authentication to root@127.0.0.1:${sshd.port} failed (check tunnel_user and the ssh_key)`,
    );
    const badPassword = await check({
      ...base(),
      tunnel_method: tunnel({ tunnel_method: 'SSH_PASSWORD_AUTH', tunnel_user_password: 'not the password' }),
    });
    expect(badPassword.status).toBe('FAILED');
    expect(badPassword.message).toBe(
      `SSH tunnel: authentication to root@127.0.0.1:${sshd.port} failed (check tunnel_user and the password)`,
    );
    const noBastion = await check({
      ...base(),
      tunnel_method: {
        ...tunnel({ tunnel_method: 'SSH_KEY_AUTH', ssh_key: sshd.privateKey }),
        tunnel_port: 1,
      },
    });
    expect(noBastion.message).toContain('SSH tunnel: could not connect to root@127.0.0.1:1');
  });
});
