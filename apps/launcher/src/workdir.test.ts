import path from 'node:path';
import type { LaunchPlan } from '@sluice/runtime';
import { describe, expect, it } from 'vitest';
import { checkProcessCommands, resolveExecutable } from './workdir';

const plan = (middleware: string[], connector: string[]): LaunchPlan => ({
  workloadId: 'w1',
  workDir: '/tmp/w1',
  middleware: { command: middleware, args: [], env: {}, network: 'host' },
  connectors: [
    { role: 'connector', command: connector, args: ['spec'], env: {}, network: 'host', stdin: false },
  ],
});

describe('process commands are checked before launch', () => {
  it('resolves executables on a PATH as execvp would', () => {
    const nodeDir = path.dirname(process.execPath);
    expect(resolveExecutable('node', `/nonexistent:${nodeDir}`)).toBe(path.join(nodeDir, 'node'));
    expect(resolveExecutable(process.execPath, '')).toBe(process.execPath);
    expect(resolveExecutable('no-such-binary-sluice', nodeDir)).toBeUndefined();
    // A directory is not an executable.
    expect(resolveExecutable('/tmp', '')).toBeUndefined();
  });

  it('accepts runnable commands and names what is missing', () => {
    expect(() => checkProcessCommands(plan(['node', __filename], ['node', __filename]))).not.toThrow();
    expect(() => checkProcessCommands(plan(['node', __filename], ['/opt/none/source']))).toThrow(
      `the connector's command "/opt/none/source" does not exist or is not executable on this host`,
    );
    expect(() => checkProcessCommands(plan(['node', __filename], ['source-x-not-installed']))).toThrow(
      /command "source-x-not-installed" does not exist .*searched PATH/,
    );
    expect(() =>
      checkProcessCommands(plan(['node', '/repo/packages/middleware/dist/cli.js'], ['node', __filename])),
    ).toThrow(
      "the middleware's command refers to /repo/packages/middleware/dist/cli.js, which does not exist on this host (is its package built?)",
    );
  });
});
