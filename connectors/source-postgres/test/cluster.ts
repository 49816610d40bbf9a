import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * A Postgres cluster of the test's own (initdb + pg_ctl as the postgres user, on a free port),
 * for what the machine's server must not be changed for: wal_level=logical, SSL, pg_hba rules.
 */
export interface Cluster {
  port: number;
  dir: string;
  /** PEM files when started with `ssl` (CA, client certificate and key for user "certuser"). */
  certs?: { ca: string; clientCert: string; clientKey: string; otherCa: string };
  client(database?: string, user?: string): Promise<pg.Client>;
  query(sql: string, params?: unknown[], database?: string): Promise<pg.QueryResult>;
  stop(): void;
}

const BIN = '/usr/lib/postgresql/15/bin';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const asPostgres = (args: string[]) => {
  const r = spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
};

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A CA, a server certificate for 127.0.0.2/localhost, a client certificate, and an unrelated CA. */
function makeCerts(dir: string) {
  const days = ['-days', '2'];
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      ...days,
      '-subj',
      '/CN=sluice test CA',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'other.key',
      '-out',
      'other.crt',
      ...days,
      '-subj',
      '/CN=another CA',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=localhost',
    ],
    dir,
  );
  // The certificate names 127.0.0.2 (and localhost), not 127.0.0.1: verify-full tells them apart.
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.2\n');
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      ...days,
      '-extfile',
      'san.ext',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'client.key',
      '-out',
      'client.csr',
      '-subj',
      '/CN=certuser',
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'client.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'client.crt',
      ...days,
    ],
    dir,
  );
}

export interface ClusterOptions {
  ssl?: boolean;
  /** pg_hba.conf lines placed before the default trust rules. */
  hba?: string[];
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-srcpg-cluster-'));
  chmodSync(dir, 0o700);
  const data = join(dir, 'data');
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  asPostgres([
    `${BIN}/initdb`,
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'postgres',
    '--no-sync',
    '-E',
    'UTF8',
    '--locale',
    'C',
  ]);
  const port = await freePort();
  const conf = [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1,127.0.0.2'",
    `unix_socket_directories = '${dir}'`,
    'wal_level = logical',
    'max_wal_senders = 10',
    'max_replication_slots = 10',
    'max_connections = 40',
    'shared_buffers = 32MB',
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
  ];
  let certs: Cluster['certs'];
  if (options.ssl) {
    const certDir = join(dir, 'certs');
    execFileSync('mkdir', ['-p', certDir]);
    makeCerts(certDir);
    execFileSync('chown', ['-R', `${uid}:${gid}`, certDir]);
    chmodSync(join(certDir, 'server.key'), 0o600);
    conf.push(
      'ssl = on',
      `ssl_cert_file = '${certDir}/server.crt'`,
      `ssl_key_file = '${certDir}/server.key'`,
      `ssl_ca_file = '${certDir}/ca.crt'`,
    );
    const read = (f: string) => execFileSync('cat', [join(certDir, f)], { encoding: 'utf8' });
    certs = {
      ca: read('ca.crt'),
      clientCert: read('client.crt'),
      clientKey: read('client.key'),
      otherCa: read('other.crt'),
    };
  }
  writeFileSync(join(data, 'postgresql.auto.conf'), `${conf.join('\n')}\n`);
  const hba = [
    ...(options.hba ?? []),
    'local all all trust',
    'host all all 127.0.0.0/8 trust',
    'host replication all 127.0.0.0/8 trust',
  ];
  writeFileSync(join(data, 'pg_hba.conf'), `${hba.join('\n')}\n`);
  execFileSync('chown', ['-R', `${uid}:${gid}`, data]);
  asPostgres([`${BIN}/pg_ctl`, '-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);

  const client = async (database = 'postgres', user = 'postgres') => {
    const c = new pg.Client({ host: '127.0.0.1', port, user, database });
    await c.connect();
    return c;
  };
  return {
    port,
    dir,
    certs,
    client,
    async query(sql, params, database) {
      const c = await client(database);
      try {
        return await c.query(sql, params);
      } finally {
        await c.end();
      }
    },
    stop() {
      try {
        asPostgres([`${BIN}/pg_ctl`, '-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
