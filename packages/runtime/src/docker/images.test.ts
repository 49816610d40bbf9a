// infra/images/build.mjs: the local base image, cached Dockerfile builds, discovery.
import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BASE_IMAGE,
  buildBaseImage,
  buildDockerfileImage,
  contextSources,
  discoverImageTargets,
  INPUTS_HASH_LABEL,
  MIDDLEWARE_IMAGE,
  REPO_ROOT,
} from '../../../../infra/images/build.mjs';

const run = promisify(execFile);
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const quiet = () => {};
let tmp: string;
const testTag = `sluice/test-image-cache-${process.pid}:dev`;

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-images-'));
}, 120_000);

afterAll(async () => {
  await docker
    .getImage(testTag)
    .remove({ force: true })
    .catch(() => {});
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('base image', () => {
  it('is built from the local node, its libraries and busybox, small and in one layer, then cached', async () => {
    await buildBaseImage({ log: quiet });
    const again = await buildBaseImage({ log: quiet });
    expect(again.built).toBe(false);
    expect(again.ms).toBeLessThan(3_000);

    const info = await docker.getImage(BASE_IMAGE).inspect();
    expect(info.RootFS.Layers).toHaveLength(1);
    expect(info.Size).toBeLessThan(160 * 1024 * 1024);
    expect(info.Config.Labels?.[INPUTS_HASH_LABEL]).toMatch(/^[0-9a-f]{32}$/);
    expect(info.Config.Env).toContain('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');

    const { stdout } = await run('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      BASE_IMAGE,
      'sh',
      '-c',
      "node -p \"process.version + ' ' + require('node:os').userInfo().username\"; echo $((6 * 7)); mkfifo /tmp/f && echo fifo; test -d /etc/ssl/certs && echo certs",
    ]);
    expect(stdout.split('\n')).toEqual([`${process.version} root`, '42', 'fifo', 'certs', '']);
  });
});

describe('Dockerfile images', () => {
  it('rebuild only when the files the Dockerfile copies change', async () => {
    const ctx = path.join(tmp, 'ctx');
    await fsp.mkdir(path.join(ctx, 'app'), { recursive: true });
    await fsp.writeFile(
      path.join(ctx, 'Dockerfile'),
      'ARG BASE_IMAGE=node:20-bookworm-slim\nFROM $BASE_IMAGE\nCOPY app/ /app/\nENTRYPOINT ["node", "/app/index.js"]\n',
    );
    await fsp.writeFile(path.join(ctx, 'app/index.js'), 'console.log("v1")\n');
    await fsp.writeFile(path.join(ctx, 'README.md'), 'not copied\n');
    await buildBaseImage({ log: quiet });

    const first = await buildDockerfileImage({ context: ctx, tag: testTag, log: quiet });
    const cached = await buildDockerfileImage({ context: ctx, tag: testTag, log: quiet });
    expect(cached).toMatchObject({ built: false, id: first.id });
    await fsp.writeFile(path.join(ctx, 'README.md'), 'still not copied\n');
    expect((await buildDockerfileImage({ context: ctx, tag: testTag, log: quiet })).built).toBe(false);

    await fsp.writeFile(path.join(ctx, 'app/index.js'), 'console.log("v2")\n');
    const rebuilt = await buildDockerfileImage({ context: ctx, tag: testTag, log: quiet });
    expect(rebuilt.built).toBe(true);
    expect(rebuilt.id).not.toBe(first.id);
    const { stdout } = await run('docker', ['run', '--rm', '--network', 'none', testTag]);
    expect(stdout.trim()).toBe('v2');
    // The superseded image was removed, not left to fill the vfs store.
    await expect(docker.getImage(first.id).inspect()).rejects.toMatchObject({ statusCode: 404 });

    await fsp.rm(path.join(ctx, 'app'), { recursive: true });
    await expect(buildDockerfileImage({ context: ctx, tag: testTag, log: quiet })).rejects.toThrow(
      /app is missing but the Dockerfile copies it/,
    );
  });

  it('lists exactly what COPY and ADD read from the context', () => {
    expect(
      contextSources(
        [
          '# comment',
          'ARG BASE_IMAGE=node:20-bookworm-slim',
          'FROM $BASE_IMAGE AS build',
          'COPY --chown=1000:1000 dist/ package.json /airbyte/integration_code/',
          'COPY ["./spec.json", "/airbyte/"]',
          'COPY --from=build /x /y',
          'ADD https://example.invalid/file /z',
          'RUN echo hi \\',
          '  && echo there',
        ].join('\n'),
      ),
    ).toEqual(['dist', 'package.json', 'spec.json']);
    expect(contextSources('FROM x\nCOPY . /app/\n')).toBeNull();
    expect(contextSources('FROM x\nCOPY src/*.js /app/\n')).toBeNull();
  });
});

describe('discovery', () => {
  it('finds connector Dockerfiles with their image names, and the middleware', async () => {
    const repo = path.join(tmp, 'repo');
    const mk = async (dir: string, files: Record<string, string>) => {
      await fsp.mkdir(path.join(repo, dir), { recursive: true });
      for (const [name, text] of Object.entries(files)) await fsp.writeFile(path.join(repo, dir, name), text);
    };
    await mk('connectors/source-a', {
      Dockerfile: 'FROM x\n',
      'package.json': JSON.stringify({ name: '@sluice/source-a', sluice: { image: 'sluice/source-a:dev' } }),
    });
    await mk('connectors/no-image-yet', { 'package.json': '{}' });
    await mk('packages/middleware', { Dockerfile: 'FROM x\n' });
    expect(await discoverImageTargets(repo)).toEqual([
      {
        name: 'source-a',
        context: path.join(repo, 'connectors/source-a'),
        tag: 'sluice/source-a:dev',
        packageDir: path.join(repo, 'connectors/source-a'),
      },
      {
        name: 'middleware',
        context: path.join(repo, 'packages/middleware'),
        tag: MIDDLEWARE_IMAGE,
        packageDir: path.join(repo, 'packages/middleware'),
      },
    ]);

    await mk('connectors/dest-b', { Dockerfile: 'FROM x\n', 'package.json': '{"name":"b"}' });
    await expect(discoverImageTargets(repo)).rejects.toThrow(
      /connectors\/dest-b has a Dockerfile but .* "sluice"/,
    );
  });

  it('has a CLI that explains itself and rejects unknown options', async () => {
    const cli = path.join(REPO_ROOT, 'infra/images/build.mjs');
    const { stdout } = await run(process.execPath, [cli, '--help']);
    expect(stdout).toContain('--only <x>');
    await expect(run(process.execPath, [cli, '--bogus'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('unknown option --bogus'),
    });
  });
});
