import type { Engine, EngineHooks } from '@sluice/workflow';
import type { WorkloadService } from '@sluice/workload';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The worker's Prometheus metrics. Gauges read their sources at scrape time (Postgres for
 * workload queue depths, Redis for workflow counts); step durations and schedule lateness are
 * observed as they happen through the engine's hooks.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly stepDuration: Histogram<'workflow' | 'step' | 'outcome'>;
  readonly workflowEnds: Counter<'workflow' | 'status'>;
  readonly scheduleLateness: Histogram;
  private service: WorkloadService | null = null;
  private engine: Engine | null = null;

  constructor(prefix = 'sluice_worker_') {
    this.stepDuration = new Histogram({
      name: `${prefix}step_duration_seconds`,
      help: 'Duration of workflow step attempts',
      labelNames: ['workflow', 'step', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [this.registry],
    });
    this.workflowEnds = new Counter({
      name: `${prefix}workflow_runs_ended_total`,
      help: 'Workflow runs that ended in this process, by status',
      labelNames: ['workflow', 'status'],
      registers: [this.registry],
    });
    this.scheduleLateness = new Histogram({
      name: `${prefix}schedule_lateness_seconds`,
      help: 'Scheduled sync job creation time minus the instant it was due',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [this.registry],
    });
    const self = this;
    new Gauge({
      name: `${prefix}workload_queue_depth`,
      help: 'Active workloads by dataplane group and status (from Postgres)',
      labelNames: ['dataplane_group', 'status'],
      registers: [this.registry],
      async collect() {
        if (!self.service) return;
        this.reset();
        for (const d of await self.service.queueDepth()) {
          for (const status of ['pending', 'claimed', 'launched', 'running'] as const) {
            this.set({ dataplane_group: d.dataplaneGroup, status }, d[status]);
          }
        }
      },
    });
    new Gauge({
      name: `${prefix}workload_oldest_pending_seconds`,
      help: 'Age of the oldest pending workload by dataplane group',
      labelNames: ['dataplane_group'],
      registers: [this.registry],
      async collect() {
        if (!self.service) return;
        this.reset();
        for (const d of await self.service.queueDepth()) {
          this.set(
            { dataplane_group: d.dataplaneGroup },
            d.oldestPendingAt ? (Date.now() - d.oldestPendingAt.getTime()) / 1000 : 0,
          );
        }
      },
    });
    new Gauge({
      name: `${prefix}workflow_queue_jobs`,
      help: "Jobs of the workflow engine's queue by state (an activation per job)",
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        if (!self.engine) return;
        const counts = await self.engine.queue.getJobCounts(
          'waiting',
          'active',
          'delayed',
          'prioritized',
          'failed',
        );
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: `${prefix}workflows`,
      help: 'Workflows by status: running, sleeping and waiting are current; completed, failed and cancelled are totals',
      labelNames: ['status'],
      registers: [this.registry],
      async collect() {
        if (!self.engine) return;
        const stats = await self.engine.stats();
        for (const [status, n] of Object.entries(stats)) this.set({ status }, n);
      },
    });
  }

  attach(sources: { service?: WorkloadService; engine?: Engine }): void {
    if (sources.service) this.service = sources.service;
    if (sources.engine) this.engine = sources.engine;
  }

  /** Engine hooks feeding the step-duration histogram and the workflow-end counter. */
  hooks(): EngineHooks {
    return {
      onStep: (e) =>
        this.stepDuration.observe(
          { workflow: e.workflowName, step: e.step, outcome: e.outcome },
          e.durationMs / 1000,
        ),
      onWorkflowEnd: (e) => this.workflowEnds.inc({ workflow: e.workflowName, status: e.status }),
    };
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
