import type { Logger } from '@sluice/shared';
import { type WorkloadApi, withApiRetry } from './api';

type Level = 'INFO' | 'WARN' | 'ERROR';

/**
 * The launcher's own lines about a workload (claim, launch, launch failure, stop), sent to the
 * attempt log through the Workload API as writer `launcher`, so every launcher's lines reach the
 * one store the API reads. Chunks are numbered per workload from 0: only the claiming launcher
 * writes for a workload, and a retried append of the same chunk is skipped by the API.
 */
export class AttemptLogWriter {
  private readonly next = new Map<string, number>();
  private readonly pending = new Map<string, string[]>();
  private readonly flushing = new Map<string, Promise<void>>();

  constructor(
    private readonly api: WorkloadApi,
    private readonly launcherId: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Queues a line and sends it in the background; with `defer`, it waits for the next line that
   * is sent (so a launch's lines cost one API call, after the launch, not one on its way).
   */
  line(workloadId: string, message: string, level: Level = 'INFO', opts: { defer?: boolean } = {}): void {
    const text = `${new Date().toISOString()} ${level} launcher(${this.launcherId}) > ${message}\n`;
    const lines = this.pending.get(workloadId) ?? [];
    lines.push(text);
    this.pending.set(workloadId, lines);
    if (!opts.defer) void this.flush(workloadId);
  }

  /** Sends everything queued for the workload; resolves once it is stored (or given up). */
  flush(workloadId: string): Promise<void> {
    const previous = this.flushing.get(workloadId) ?? Promise.resolve();
    const run = previous.then(async () => {
      const lines = this.pending.get(workloadId);
      if (!lines?.length) return;
      this.pending.delete(workloadId);
      const sequence = this.next.get(workloadId) ?? 0;
      this.next.set(workloadId, sequence + 1);
      try {
        await withApiRetry(() =>
          this.api.appendLog.mutate({
            id: workloadId,
            writer: 'launcher',
            chunks: [{ sequence, text: lines.join('') }],
          }),
        );
      } catch (err) {
        // The attempt log is for users; the launcher's own log keeps the lines when the API refuses.
        this.logger.warn(
          { workloadId, err: (err as Error).message, lines },
          'could not append to the attempt log',
        );
      }
    });
    this.flushing.set(workloadId, run);
    void run.finally(() => {
      if (this.flushing.get(workloadId) === run) this.flushing.delete(workloadId);
    });
    return run;
  }

  /** Forgets a workload once nothing more will be written about it. */
  forget(workloadId: string): void {
    if (this.pending.has(workloadId) || this.flushing.has(workloadId)) return;
    this.next.delete(workloadId);
  }

  async flushAll(): Promise<void> {
    await Promise.all(
      [...new Set([...this.pending.keys(), ...this.flushing.keys()])].map((id) => this.flush(id)),
    );
  }
}
