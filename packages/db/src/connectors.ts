import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLogger, type Logger } from '@sluice/shared';
import { z } from 'zod';
import type { Db } from './client';
import { connectorProcessEnv } from './env';
import { Prisma } from './generated/prisma/client';
import { defaultConnectorsRoot } from './paths';

/** Resource requirements, as stored in connector_definitions.resources. */
export const ResourceRequirements = z
  .object({
    cpuRequest: z.number().positive().optional(),
    cpuLimit: z.number().positive().optional(),
    memoryRequestMb: z.number().int().positive().optional(),
    memoryLimitMb: z.number().int().positive().optional(),
  })
  .strict();
export type ResourceRequirements = z.infer<typeof ResourceRequirements>;

/** The `"sluice"` key of a connector's package.json. */
export const ConnectorMetadata = z.object({
  kind: z.enum(['source', 'destination']),
  displayName: z.string().min(1),
  image: z.string().min(1),
  supportsSocket: z.boolean().default(false),
  network: z.enum(['none', 'host']).default('none'),
  resources: ResourceRequirements.optional(),
  documentationUrl: z.url().optional(),
});
export type ConnectorMetadata = z.infer<typeof ConnectorMetadata>;

/** The parts of a ConnectorSpecification the platform relies on; the rest is kept as is. */
export const ConnectorSpecification = z.looseObject({
  connectionSpecification: z.record(z.string(), z.unknown()),
  documentationUrl: z.string().optional(),
});
export type ConnectorSpecification = z.infer<typeof ConnectorSpecification>;

export interface LocalConnector {
  /** Folder name; the definition's unique name. */
  name: string;
  dir: string;
  version: string;
  metadata: ConnectorMetadata;
  /**
   * argv for the process runtime: the Node binary running the bootloader and the absolute
   * path of the connector's bin. Absolute paths make it independent of the working
   * directory, and an absolute interpreter needs no PATH in the minimal environment
   * connectors are started with. Recomputed at every boot, so moving the checkout heals.
   */
  command: string[];
}

export interface ConnectorProblem {
  name: string;
  error: string;
}

export interface SeedReport {
  created: string[];
  upgraded: string[];
  unchanged: string[];
  failed: ConnectorProblem[];
}

export interface SeedOptions {
  connectorsRoot?: string;
  specTimeoutMs?: number;
  /** How many `spec` processes run at once. */
  concurrency?: number;
  logger?: Logger;
}

const SEED_ADVISORY_LOCK = 72707370;

function binPath(pkg: Record<string, unknown>, name: string): string | undefined {
  const { bin } = pkg;
  if (typeof bin === 'string') return bin;
  if (bin && typeof bin === 'object') {
    const entries = Object.entries(bin as Record<string, unknown>);
    const chosen =
      (bin as Record<string, unknown>)[name] ?? (entries.length === 1 ? entries[0]?.[1] : undefined);
    return typeof chosen === 'string' ? chosen : undefined;
  }
  return undefined;
}

function describeZodError(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Reads every `<root>/<folder>/package.json` that carries a `"sluice"` key. */
export async function discoverConnectors(
  root: string = defaultConnectorsRoot,
): Promise<{ connectors: LocalConnector[]; problems: ConnectorProblem[] }> {
  const connectors: LocalConnector[] = [];
  const problems: ConnectorProblem[] = [];
  let entries: string[];
  try {
    entries = (await readdir(root, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch (err) {
    throw new Error(`Cannot read the connectors directory ${root}: ${(err as Error).message}`);
  }
  for (const name of entries) {
    const dir = join(root, name);
    let pkg: Record<string, unknown>;
    try {
      pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    } catch {
      continue; // not a package
    }
    if (pkg.sluice === undefined) continue; // a package in connectors/ that is not a connector
    const meta = ConnectorMetadata.safeParse(pkg.sluice);
    if (!meta.success) {
      problems.push({
        name,
        error: `invalid "sluice" metadata in package.json: ${describeZodError(meta.error)}`,
      });
      continue;
    }
    const version = typeof pkg.version === 'string' ? pkg.version : undefined;
    if (!version) {
      problems.push({ name, error: 'package.json has no version' });
      continue;
    }
    const bin = binPath(pkg, name);
    if (!bin) {
      problems.push({ name, error: `package.json has no "bin" entry named ${name}` });
      continue;
    }
    const absBin = resolve(dir, bin);
    const binStat = await stat(absBin).catch(() => null);
    if (!binStat?.isFile()) {
      problems.push({
        name,
        error: `bin ${absBin} does not exist; build the connector first (npm run build)`,
      });
      continue;
    }
    connectors.push({ name, dir, version, metadata: meta.data, command: [process.execPath, absBin] });
  }
  return { connectors, problems };
}

export class SpecError extends Error {
  override name = 'SpecError';
}

function tail(text: string, max = 600): string {
  const t = text.trim();
  return t.length > max ? `…${t.slice(-max)}` : t;
}

/**
 * Runs `<command> spec` and returns the SPEC message's specification. The process gets a
 * minimal environment: never the platform's database URL or keys.
 */
export function runSpec(command: string[], timeoutMs = 30_000): Promise<ConnectorSpecification> {
  const [file, ...args] = command;
  if (!file) return Promise.reject(new SpecError('empty command'));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, [...args, 'spec'], {
      cwd: tmpdir(),
      env: connectorProcessEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const limit = 16 * 1024 * 1024;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < limit) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8192);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new SpecError(`could not start ${file}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new SpecError(`spec did not finish within ${timeoutMs} ms`));
      let spec: unknown;
      let traceError: string | undefined;
      for (const line of stdout.split('\n')) {
        const trimmed = line.trim();
        if (!trimmed.startsWith('{')) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(trimmed);
        } catch {
          continue;
        }
        if (msg.type === 'SPEC' && spec === undefined) spec = msg.spec;
        if (msg.type === 'TRACE') {
          const trace = msg.trace as { type?: string; error?: { message?: string } } | undefined;
          if (trace?.type === 'ERROR') traceError = trace.error?.message;
        }
      }
      if (code !== 0 || signal) {
        const why = traceError ?? tail(stderr);
        return reject(new SpecError(`spec exited with ${signal ?? `code ${code}`}${why ? `: ${why}` : ''}`));
      }
      if (spec === undefined) {
        return reject(
          new SpecError(`spec printed no SPEC message${traceError ? ` (error: ${traceError})` : ''}`),
        );
      }
      const parsed = ConnectorSpecification.safeParse(spec);
      if (!parsed.success) {
        return reject(new SpecError(`SPEC message is invalid: ${describeZodError(parsed.error)}`));
      }
      resolvePromise(parsed.data);
    });
  });
}

/** JSON with sorted keys: jsonb reorders keys, so compare canonical forms. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return results;
}

/**
 * Creates or upgrades a built-in connector definition for every connector in the
 * repository, keyed by name. A connector whose metadata or `spec` fails is reported and
 * skipped; the others proceed. Concurrent seeders serialise on an advisory lock, so each
 * connector ends up with exactly one definition.
 */
export async function seedConnectorDefinitions(db: Db, options: SeedOptions = {}): Promise<SeedReport> {
  const log = options.logger ?? createLogger('db.seed');
  const { connectors, problems } = await discoverConnectors(options.connectorsRoot);
  const report: SeedReport = { created: [], upgraded: [], unchanged: [], failed: [...problems] };

  // Run `spec` before taking the lock: it is the slow part and needs no coordination.
  const specs = await mapLimit(connectors, options.concurrency ?? 4, async (c) => {
    try {
      return { connector: c, spec: await runSpec(c.command, options.specTimeoutMs) };
    } catch (err) {
      report.failed.push({ name: c.name, error: (err as Error).message });
      return null;
    }
  });
  const ready = specs.filter((s): s is NonNullable<typeof s> => s !== null);

  await db.$transaction(
    async (tx) => {
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${SEED_ADVISORY_LOCK})`);
      for (const { connector: c, spec } of ready) {
        const data = {
          displayName: c.metadata.displayName,
          kind: c.metadata.kind,
          version: c.version,
          image: c.metadata.image,
          command: c.command,
          documentationUrl: c.metadata.documentationUrl ?? spec.documentationUrl ?? null,
          supportsSocket: c.metadata.supportsSocket,
          network: c.metadata.network,
        };
        const existing = await tx.connectorDefinition.findUnique({ where: { name: c.name } });
        if (!existing) {
          await tx.connectorDefinition.create({
            data: {
              ...data,
              name: c.name,
              spec: spec as Prisma.InputJsonObject,
              specFetchedAt: new Date(),
              resources: c.metadata.resources ?? Prisma.DbNull,
              builtIn: true,
            },
          });
          report.created.push(c.name);
          continue;
        }
        if (!existing.builtIn) {
          report.failed.push({
            name: c.name,
            error: 'a custom connector definition already uses this name; it was left untouched',
          });
          continue;
        }
        const specChanged = canonicalJson(existing.spec) !== canonicalJson(spec);
        const changed =
          specChanged ||
          existing.tombstone ||
          canonicalJson(existing.resources) !== canonicalJson(c.metadata.resources ?? null) ||
          (Object.keys(data) as (keyof typeof data)[]).some(
            (k) => canonicalJson(existing[k]) !== canonicalJson(data[k]),
          );
        if (!changed) {
          report.unchanged.push(c.name);
          continue;
        }
        await tx.connectorDefinition.update({
          where: { id: existing.id },
          data: {
            ...data,
            spec: spec as Prisma.InputJsonObject,
            ...(specChanged ? { specFetchedAt: new Date() } : {}),
            resources: c.metadata.resources ?? Prisma.DbNull,
            tombstone: false,
          },
        });
        report.upgraded.push(c.name);
        log.info(
          { connector: c.name, from: existing.version, to: c.version },
          'upgraded connector definition',
        );
      }
    },
    { maxWait: 60_000, timeout: 60_000 },
  );

  for (const problem of report.failed) {
    log.error({ connector: problem.name, error: problem.error }, 'connector definition not seeded');
  }
  return report;
}
