#!/usr/bin/env node
// Builds Sluice's container images locally, without any registry (DESIGN §5):
//   1. `sluice/node-base:<node major>`: `docker import` of a tarball holding the local Node.js
//      binary, the shared libraries `ldd` lists for it, CA certificates and busybox-static.
//   2. every `connectors/*/Dockerfile` (tagged with the connector's package.json `sluice.image`)
//      and `packages/middleware/Dockerfile` (`sluice/middleware:dev`), with the classic builder
//      and `--build-arg BASE_IMAGE=<the local base>`.
// Each image carries a label with the hash of its inputs; a build is skipped when an image with
// that label exists, so repeated test runs cost a few hashes.
//
// Usage: node infra/images/build.mjs [--force] [--compile] [--base-only] [--public-base]
//                                    [--fixtures] [--only <name-or-tag>]...
// Import: import { buildBaseImage, buildDockerfileImage, buildAll } from '<repo>/infra/images/build.mjs'

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '../..');

/** Bump when the way images are assembled changes, so cached images are rebuilt. */
const BUILDER_VERSION = '1';
export const INPUTS_HASH_LABEL = 'sluice.inputs-hash';
export const NODE_MAJOR = process.versions.node.split('.')[0];
export const BASE_IMAGE = `sluice/node-base:${NODE_MAJOR}`;
export const MIDDLEWARE_IMAGE = 'sluice/middleware:dev';
export const FIXTURE_IMAGE = 'sluice/test-airbyte-fixture:dev';
export const FIXTURES_DIR = path.join(HERE, 'test-fixtures');
const BASE_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Binaries this big are fingerprinted by identity (inode, size, mtime), not content: hashing the
 * 100 MB node binary on every test run would cost half a second for nothing. */
const FINGERPRINT_BY_STAT_ABOVE = 8 * 1024 * 1024;

const displayPath = (p) => (p.startsWith(`${REPO_ROOT}/`) ? path.relative(REPO_ROOT, p) : p);
const defaultLog = (msg) => process.stderr.write(`[images] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// process helpers

/** Runs a command; resolves its stdout, rejects with the tail of its output on failure. */
function run(cmd, args, { input, env, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      env: env ? { ...process.env, ...env } : process.env,
      stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    if (input) input(child.stdin);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString();
      if (code === 0) return resolve(stdout);
      const tail = (Buffer.concat(err).toString() || stdout).trim().split('\n').slice(-15).join('\n');
      reject(new Error(`${cmd} ${args.slice(0, 2).join(' ')} failed (exit ${code}):\n${tail}`));
    });
  });
}

/**
 * `tar -c <args>` into a temporary file, then that file as the stdin of `docker <dockerArgs>`.
 * Not a pipe: a tar that failed half-way must never reach docker as a truncated context or
 * rootfs, which would then be cached under the right inputs hash.
 */
async function tarInto(tarArgs, dockerArgs, env) {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-tar-'));
  const file = path.join(dir, 'context.tar');
  try {
    await run('tar', ['-c', '-f', file, ...tarArgs]);
    return await run('docker', dockerArgs, {
      env,
      input: (stdin) => {
        stdin.on('error', () => {}); // docker may exit early; its own error is the one to report
        fs.createReadStream(file).pipe(stdin);
      },
    });
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

async function imageLabelsAndId(ref) {
  try {
    const out = await run('docker', ['image', 'inspect', '--format', '{{json .Config.Labels}} {{.Id}}', ref]);
    const sp = out.trim().lastIndexOf(' ');
    return { labels: JSON.parse(out.slice(0, sp)) ?? {}, id: out.slice(sp + 1).trim() };
  } catch {
    return undefined;
  }
}

/** An image (by tag, or any image carrying the same inputs hash, re-tagged) that is up to date. */
async function findCached(tag, hash) {
  const current = await imageLabelsAndId(tag);
  if (current?.labels[INPUTS_HASH_LABEL] === hash) return current.id;
  const ids = (
    await run('docker', ['images', '-q', '--no-trunc', '--filter', `label=${INPUTS_HASH_LABEL}=${hash}`])
  )
    .split('\n')
    .filter(Boolean);
  if (ids[0]) {
    await run('docker', ['tag', ids[0], tag]);
    return ids[0];
  }
  return undefined;
}

/** Removes the image a tag pointed to before a rebuild, when nothing else needs it (vfs makes every
 * layer a full copy, so stale images add up fast). */
async function dropIfDangling(oldId, newId) {
  if (!oldId || oldId === newId) return;
  await run('docker', ['rmi', oldId]).catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// build lock: test files run in parallel processes and may all ask for the same images

const LOCK_DIR = path.join(os.tmpdir(), 'sluice-image-build.lock');

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

async function withBuildLock(fn, timeoutMs = 15 * 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fsp.mkdir(LOCK_DIR);
      await fsp.writeFile(path.join(LOCK_DIR, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const holder = Number(await fsp.readFile(path.join(LOCK_DIR, 'pid'), 'utf8').catch(() => '0'));
      if (holder && !pidAlive(holder)) {
        await fsp.rm(LOCK_DIR, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the image build lock ${LOCK_DIR}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(LOCK_DIR, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// hashing

async function fileDigest(file) {
  const st = await fsp.stat(file);
  if (st.size > FINGERPRINT_BY_STAT_ABOVE) return `stat:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  return createHash('sha256')
    .update(await fsp.readFile(file))
    .digest('hex');
}

/** Files under `dir` (relative paths, sorted), skipping what never belongs in an image context. */
async function walk(dir, rel = '') {
  const skip = new Set(['node_modules', '.git', '.turbo']);
  const out = [];
  const entries = await fsp.readdir(path.join(dir, rel), { withFileTypes: true });
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (skip.has(e.name)) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(dir, r)));
    else out.push(r);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// base image

/** Shared libraries and loader `ldd` lists for a binary: [{ path (as the loader looks it up), real }]. */
async function sharedLibraries(binary) {
  const out = await run('ldd', [binary]);
  const libs = [];
  for (const line of out.split('\n')) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m?.[1]) libs.push({ path: m[1], real: fs.realpathSync(m[1]) });
  }
  if (!libs.some((l) => /ld-linux|ld-musl/.test(l.path))) {
    throw new Error(`ldd did not list a dynamic loader for ${binary}:\n${out}`);
  }
  return libs;
}

async function busyboxApplets(busybox) {
  const out = await run(busybox, ['--list-full']);
  return out.split('\n').filter((l) => l && !l.includes('..'));
}

/** Everything that goes into the base image, as [destination path in image, source on host]. */
async function baseImageInputs() {
  const node = fs.realpathSync(process.execPath);
  const busyboxCandidates = ['/bin/busybox', '/usr/bin/busybox'];
  const busyboxPath = busyboxCandidates.find((p) => fs.existsSync(p));
  if (!busyboxPath) {
    throw new Error("busybox-static not found (/bin/busybox); install Debian's busybox-static package");
  }
  const busybox = fs.realpathSync(busyboxPath);
  const bbFile = await run('file', ['-b', busybox]).catch(() => '');
  if (bbFile && !/statically linked|static-pie/.test(bbFile)) {
    throw new Error(`${busybox} is not statically linked; install Debian's busybox-static package`);
  }
  const files = [
    ['usr/local/bin/node', node],
    ['bin/busybox', busybox],
  ];
  for (const lib of await sharedLibraries(node)) files.push([lib.path.slice(1), lib.real]);
  const certs = '/etc/ssl/certs';
  if (fs.existsSync(certs)) {
    for (const name of (await fsp.readdir(certs)).sort()) {
      const src = path.join(certs, name);
      const real = fs.realpathSync(src);
      if ((await fsp.stat(real)).isFile()) files.push([`etc/ssl/certs/${name}`, real]);
    }
  }
  const applets = (await busyboxApplets(busybox)).filter((a) => !files.some(([dest]) => dest === a));
  return { files, applets };
}

const ETC_FILES = {
  'etc/passwd':
    'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  'etc/group': 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n',
  'etc/nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
};

async function stageBase(dir, { files, applets }) {
  const link = async (src, dest) => {
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    // Hard links make staging free when /tmp and the binaries share a filesystem.
    await fsp.link(src, dest).catch(() => fsp.copyFile(src, dest));
  };
  for (const [dest, src] of files) await link(src, path.join(dir, dest));
  for (const applet of applets) {
    const dest = path.join(dir, applet);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await fsp.symlink('/bin/busybox', dest).catch((e) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  for (const [dest, content] of Object.entries(ETC_FILES)) {
    await fsp.mkdir(path.dirname(path.join(dir, dest)), { recursive: true });
    await fsp.writeFile(path.join(dir, dest), content);
  }
  for (const d of ['tmp', 'root', 'home/node', 'var/tmp'])
    await fsp.mkdir(path.join(dir, d), { recursive: true });
  await fsp.chmod(path.join(dir, 'tmp'), 0o1777);
  await fsp.chmod(path.join(dir, 'var/tmp'), 0o1777);
}

/**
 * Builds `sluice/node-base:<major>` from the local Node.js runtime (skipped when cached).
 * @returns {Promise<{ tag: string, id: string, built: boolean, ms: number }>}
 */
export async function buildBaseImage({ tag = BASE_IMAGE, force = false, log = defaultLog } = {}) {
  const t0 = Date.now();
  const inputs = await baseImageInputs();
  const h = createHash('sha256').update(`builder ${BUILDER_VERSION}\n`);
  for (const [dest, src] of inputs.files) h.update(`${dest} ${await fileDigest(src)}\n`);
  h.update(`applets ${inputs.applets.join(',')}\n${JSON.stringify(ETC_FILES)}`);
  const hash = h.digest('hex').slice(0, 32);

  return withBuildLock(async () => {
    const previous = await imageLabelsAndId(tag);
    if (!force) {
      const id = await findCached(tag, hash);
      if (id) return { tag, id, built: false, ms: Date.now() - t0 };
    }
    log(`building ${tag} from ${process.execPath} (node ${process.version})`);
    const staging = await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-base-'));
    try {
      await stageBase(staging, inputs);
      const changes = [
        `ENV PATH=${BASE_PATH_ENV}`,
        `ENV NODE_VERSION=${process.versions.node}`,
        `LABEL ${INPUTS_HASH_LABEL}=${hash}`,
        'LABEL org.opencontainers.image.description="Local Node.js runtime with busybox, built by Sluice"',
        'CMD ["node"]',
      ];
      await tarInto(
        ['--numeric-owner', '--owner=0', '--group=0', '-C', staging, '.'],
        ['import', ...changes.flatMap((c) => ['--change', c]), '-', tag],
      );
    } finally {
      await fsp.rm(staging, { recursive: true, force: true });
    }
    const id = (await imageLabelsAndId(tag))?.id ?? '';
    await dropIfDangling(previous?.id, id);
    log(`built ${tag} in ${Date.now() - t0} ms`);
    return { tag, id, built: true, ms: Date.now() - t0 };
  });
}

// ---------------------------------------------------------------------------------------------
// Dockerfile images

/** Logical Dockerfile lines (continuations joined, comments and blank lines dropped). */
function dockerfileInstructions(text) {
  const lines = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!cur && /^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      cur += `${line.slice(0, -1)} `;
      continue;
    }
    cur += line;
    if (cur.trim()) lines.push(cur.trim());
    cur = '';
  }
  if (cur.trim()) lines.push(cur.trim());
  return lines;
}

/**
 * The context paths a Dockerfile's COPY/ADD read, or null when they cannot be listed exactly
 * (wildcards, the whole context): then the whole context is sent and hashed.
 */
export function contextSources(dockerfileText) {
  const sources = new Set();
  for (const line of dockerfileInstructions(dockerfileText)) {
    const m = line.match(/^(COPY|ADD)\s+(.*)$/i);
    if (!m?.[2]) continue;
    let rest = m[2].trim();
    const flags = [];
    while (rest.startsWith('--')) {
      const sp = rest.search(/\s/);
      flags.push(rest.slice(0, sp));
      rest = rest.slice(sp).trim();
    }
    if (flags.some((f) => f.startsWith('--from'))) continue;
    const parts = rest.startsWith('[') ? JSON.parse(rest) : rest.split(/\s+/);
    for (const src of parts.slice(0, -1)) {
      if (/^https?:\/\//.test(src)) continue;
      const clean = path.posix
        .normalize(src)
        .replace(/^(\.\/)+/, '')
        .replace(/\/$/, '');
      if (/[*?[]/.test(clean) || clean === '.' || clean === '' || clean.startsWith('..')) return null;
      sources.add(clean);
    }
  }
  return [...sources].sort();
}

async function contextFiles(context, sources) {
  if (sources === null) return walk(context);
  const files = [];
  for (const src of sources) {
    const abs = path.join(context, src);
    const st = await fsp.stat(abs).catch(() => undefined);
    if (!st) {
      throw new Error(
        `${path.relative(REPO_ROOT, abs) || abs} is missing but the Dockerfile copies it; build the package first (npx tsup), or pass --compile`,
      );
    }
    if (st.isDirectory()) files.push(...(await walk(context, src)));
    else files.push(src);
  }
  return files;
}

/**
 * Builds one image from a Dockerfile with the classic builder, skipped when an image labelled
 * with the same inputs hash exists. The hash covers the Dockerfile, the files it copies, the
 * build args and the id of the base image they name.
 * @returns {Promise<{ tag: string, id: string, built: boolean, ms: number }>}
 */
export async function buildDockerfileImage({
  context,
  dockerfile = 'Dockerfile',
  tag,
  buildArgs = { BASE_IMAGE },
  force = false,
  log = defaultLog,
}) {
  const t0 = Date.now();
  if (!tag) throw new Error(`no image tag given for ${context}`);
  const dockerfilePath = path.resolve(context, dockerfile);
  const text = await fsp.readFile(dockerfilePath, 'utf8').catch(() => {
    throw new Error(`Dockerfile not found: ${dockerfilePath}`);
  });
  const dfRel = path.relative(context, dockerfilePath);
  if (dfRel.startsWith('..')) throw new Error(`the Dockerfile must be inside its context ${context}`);
  const sources = contextSources(text);
  const files = await contextFiles(context, sources);

  const h = createHash('sha256').update(`builder ${BUILDER_VERSION}\n${text}\n`);
  for (const [k, v] of Object.entries(buildArgs).sort()) {
    h.update(`arg ${k}=${v}\n`);
    // A rebuilt base image must rebuild what sits on it.
    const baseId = (await imageLabelsAndId(v))?.id;
    if (baseId) h.update(`image ${v}=${baseId}\n`);
  }
  for (const f of files) h.update(`${f} ${await fileDigest(path.join(context, f))}\n`);
  const hash = h.digest('hex').slice(0, 32);

  return withBuildLock(async () => {
    const previous = await imageLabelsAndId(tag);
    if (!force) {
      const id = await findCached(tag, hash);
      if (id) return { tag, id, built: false, ms: Date.now() - t0 };
    }
    log(`building ${tag} from ${displayPath(dockerfilePath)}`);
    const tarList =
      sources === null
        ? ['--exclude=node_modules', '--exclude=.git', '--exclude=.turbo', '.']
        : [
            dfRel,
            ...(fs.existsSync(path.join(context, '.dockerignore')) ? ['.dockerignore'] : []),
            ...sources,
          ];
    await tarInto(
      ['-C', context, '--', ...new Set(tarList)],
      [
        'build',
        '-q',
        // A failed step must not leave its container behind (vfs: a full filesystem copy each).
        '--force-rm',
        '-f',
        dfRel,
        '--label',
        `${INPUTS_HASH_LABEL}=${hash}`,
        ...Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
        '-t',
        tag,
        '-',
      ],
      { DOCKER_BUILDKIT: '0' },
    );
    const id = (await imageLabelsAndId(tag))?.id ?? '';
    await dropIfDangling(previous?.id, id);
    log(`built ${tag} in ${Date.now() - t0} ms`);
    return { tag, id, built: true, ms: Date.now() - t0 };
  });
}

// ---------------------------------------------------------------------------------------------
// discovery

/**
 * The images the repository defines: `connectors/<name>/Dockerfile` tagged with the connector's
 * package.json `sluice.image`, and `packages/middleware/Dockerfile` as `sluice/middleware:dev`.
 * @returns {Promise<Array<{ name: string, context: string, tag: string, packageDir: string }>>}
 */
export async function discoverImageTargets(repoRoot = REPO_ROOT) {
  const targets = [];
  const connectorsDir = path.join(repoRoot, 'connectors');
  const names = fs.existsSync(connectorsDir) ? (await fsp.readdir(connectorsDir)).sort() : [];
  for (const name of names) {
    const dir = path.join(connectorsDir, name);
    if (!fs.existsSync(path.join(dir, 'Dockerfile'))) continue;
    const pkg = JSON.parse(await fsp.readFile(path.join(dir, 'package.json'), 'utf8').catch(() => '{}'));
    const tag = pkg?.sluice?.image;
    if (typeof tag !== 'string' || !tag) {
      throw new Error(
        `connectors/${name} has a Dockerfile but its package.json has no "sluice": { "image": ... }`,
      );
    }
    targets.push({ name, context: dir, tag, packageDir: dir });
  }
  const mw = path.join(repoRoot, 'packages/middleware');
  if (fs.existsSync(path.join(mw, 'Dockerfile'))) {
    targets.push({ name: 'middleware', context: mw, tag: MIDDLEWARE_IMAGE, packageDir: mw });
  }
  return targets;
}

/** The test fixture images under infra/images/test-fixtures (not built by default). */
export function fixtureTargets() {
  return [
    {
      name: 'airbyte-fixture',
      context: path.join(FIXTURES_DIR, 'airbyte-fixture'),
      tag: FIXTURE_IMAGE,
      packageDir: undefined,
    },
  ];
}

/**
 * Builds the base image, then every discovered image (and the fixtures when asked).
 * `publicBase`: build on the Dockerfiles' default BASE_IMAGE (the public node image) instead.
 * `compile`: run each package's `npm run build` first, so `dist/` is current.
 */
export async function buildAll({
  repoRoot = REPO_ROOT,
  only = [],
  force = false,
  compile = false,
  fixtures = false,
  baseOnly = false,
  publicBase = false,
  log = defaultLog,
} = {}) {
  const results = [];
  if (!publicBase) results.push(await buildBaseImage({ force, log }));
  if (baseOnly) return results;
  let targets = [...(await discoverImageTargets(repoRoot)), ...(fixtures ? fixtureTargets() : [])];
  if (only.length) {
    targets = targets.filter((t) => only.includes(t.name) || only.includes(t.tag));
    const missing = only.filter((o) => !targets.some((t) => t.name === o || t.tag === o));
    if (missing.length) throw new Error(`no image target named ${missing.join(', ')}`);
  }
  for (const t of targets) {
    if (compile && t.packageDir) {
      log(`compiling ${path.relative(repoRoot, t.packageDir)}`);
      await run('npm', ['run', 'build'], { cwd: t.packageDir });
    }
    results.push(
      await buildDockerfileImage({
        context: t.context,
        tag: t.tag,
        buildArgs: publicBase ? {} : { BASE_IMAGE },
        force,
        log,
      }),
    );
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// CLI

function parseArgs(argv) {
  const opts = { only: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--force') opts.force = true;
    else if (a === '--compile') opts.compile = true;
    else if (a === '--base-only') opts.baseOnly = true;
    else if (a === '--public-base') opts.publicBase = true;
    else if (a === '--fixtures') opts.fixtures = true;
    else if (a === '--only') {
      const v = argv[++i];
      if (!v) throw new Error('--only needs an image name or tag');
      opts.only.push(v);
    } else if (a === '--help' || a === '-h') opts.help = true;
    else throw new Error(`unknown option ${a} (see --help)`);
  }
  return opts;
}

const USAGE = `Usage: node infra/images/build.mjs [options]
  --force        rebuild even when an image with the same inputs exists
  --compile      run each package's "npm run build" before building its image
  --base-only    build only ${BASE_IMAGE}
  --public-base  build on the Dockerfiles' default BASE_IMAGE instead of the local base
  --fixtures     also build the test fixture images
  --only <x>     build only the image with this name (connector dir) or tag; repeatable`;

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    if (opts.help) {
      console.log(USAGE);
    } else {
      const results = await buildAll(opts);
      for (const r of results) {
        console.log(`${r.built ? 'built ' : 'cached'} ${r.tag} ${r.id.slice(7, 19)} ${r.ms} ms`);
      }
    }
  } catch (e) {
    process.stderr.write(`[images] ${e.message}\n`);
    process.exitCode = 1;
  }
}
