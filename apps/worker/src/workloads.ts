import { outcomeOf, type WorkloadOutcome } from '@sluice/platform';
import { type CreateWorkload, WorkloadError, type WorkloadService } from '@sluice/workload';

/**
 * How workflows reach workloads. Production wraps the Workload service (a row in Postgres, a
 * job on the dataplane group's queue; a launcher runs it and its completion comes back as a
 * signal). Benchmarks use `noopWorkloads`, whose workloads end as soon as they are created.
 */
export interface WorkloadGateway {
  /** Creates the workload unless it exists (ids are deterministic); its outcome if it has ended. */
  create(args: CreateWorkload): Promise<WorkloadOutcome | null>;
  /** The outcome once it has ended, null while it runs. An unknown id counts as a failure. */
  outcome(id: string): Promise<WorkloadOutcome | null>;
  /** Cancels it if it still runs; its outcome (now ended). */
  cancel(id: string, reason: string): Promise<WorkloadOutcome | null>;
  /** The output an ended workload reported. */
  output(id: string): Promise<unknown>;
}

export function serviceWorkloads(service: WorkloadService): WorkloadGateway {
  const get = async (id: string) => {
    try {
      return await service.get(id);
    } catch (err) {
      if (err instanceof WorkloadError && err.code === 'NOT_FOUND') return null;
      throw err;
    }
  };
  const missing = (id: string): WorkloadOutcome => ({
    id,
    status: 'failure',
    terminationReason: `workload ${id} no longer exists`,
    terminationSource: 'platform',
  });
  return {
    async create(args) {
      const { workload } = await service.create(args);
      return outcomeOf(workload);
    },
    async outcome(id) {
      const w = await get(id);
      return w ? outcomeOf(w) : missing(id);
    },
    async cancel(id, reason) {
      try {
        return outcomeOf(await service.cancel({ id, reason, source: 'platform' }));
      } catch (err) {
        // Already ended (or gone): nothing to cancel.
        if (!(err instanceof WorkloadError)) throw err;
        const w = await get(id);
        return w ? outcomeOf(w) : missing(id);
      }
    },
    async output(id) {
      return (await get(id))?.output ?? null;
    },
  };
}

/**
 * Workloads that succeed the moment they are created, without touching the database or a
 * launcher: measures the platform's own overhead (schedule lateness). `output` gives each
 * workload's output (default: none, so a discover changes nothing).
 */
export function noopWorkloads(output: (args: CreateWorkload) => unknown = () => null): WorkloadGateway {
  const outputs = new Map<string, unknown>();
  const done = (id: string): WorkloadOutcome => ({
    id,
    status: 'success',
    terminationReason: null,
    terminationSource: null,
  });
  return {
    async create(args) {
      outputs.set(args.id, output(args));
      return done(args.id);
    },
    async outcome(id) {
      return done(id);
    },
    async cancel(id) {
      return done(id);
    },
    async output(id) {
      const v = outputs.get(id) ?? null;
      outputs.delete(id);
      return v;
    },
  };
}
