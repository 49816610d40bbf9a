import { createServer, type Server, type Socket } from 'node:net';
import { ConfigError } from '@sluice/protocol';
import { type ConnectConfig, Client as SshClient } from 'ssh2';
import type { TunnelMethod } from './config';

/** A local TCP port that forwards every connection through the bastion to the database. */
export interface Tunnel {
  host: string;
  port: number;
  close(): Promise<void>;
}

type SshTunnelMethod = Exclude<TunnelMethod, { tunnel_method: 'NO_TUNNEL' }>;

function sshConnectConfig(method: SshTunnelMethod): ConnectConfig {
  const base: ConnectConfig = {
    host: method.tunnel_host,
    port: method.tunnel_port,
    username: method.tunnel_user,
    readyTimeout: 20_000,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
  };
  if (method.tunnel_method === 'SSH_KEY_AUTH') {
    // Keys pasted into a form often lose their final newline; OpenSSH keys need it.
    const key = method.ssh_key.endsWith('\n') ? method.ssh_key : `${method.ssh_key}\n`;
    return { ...base, privateKey: key };
  }
  return { ...base, password: method.tunnel_user_password, tryKeyboard: false };
}

/**
 * Opens an SSH session to the bastion and listens on 127.0.0.1 (a free port); each accepted
 * connection becomes one `direct-tcpip` channel to `dbHost:dbPort` as seen from the bastion.
 */
export async function openTunnel(method: SshTunnelMethod, dbHost: string, dbPort: number): Promise<Tunnel> {
  const ssh = new SshClient();
  const where = `${method.tunnel_user}@${method.tunnel_host}:${method.tunnel_port}`;
  try {
    await new Promise<void>((resolve, reject) => {
      ssh.once('ready', () => resolve());
      ssh.once('error', reject);
      ssh.connect(sshConnectConfig(method));
    });
  } catch (err) {
    ssh.end();
    const message = (err as Error).message;
    const auth = /authentication/i.test(message);
    throw new ConfigError(
      auth
        ? `SSH tunnel: authentication to ${where} failed (check tunnel_user and the ${method.tunnel_method === 'SSH_KEY_AUTH' ? 'ssh_key' : 'password'})`
        : `SSH tunnel: could not connect to ${where}: ${message}`,
      { cause: err },
    );
  }
  // After 'ready', a dropped session fails the open channels; the error must not crash the process.
  ssh.on('error', () => {});

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    ssh.forwardOut('127.0.0.1', socket.remotePort ?? 0, dbHost, dbPort, (err, channel) => {
      if (err) {
        socket.destroy(
          new Error(`SSH tunnel: the bastion could not reach ${dbHost}:${dbPort}: ${err.message}`),
        );
        return;
      }
      socket.pipe(channel).pipe(socket);
      channel.once('close', () => socket.destroy());
      socket.once('close', () => channel.close());
      channel.on('error', () => socket.destroy());
      socket.on('error', () => channel.close());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('SSH tunnel: no local port');
  return {
    host: '127.0.0.1',
    port: address.port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      ssh.end();
    },
  };
}
