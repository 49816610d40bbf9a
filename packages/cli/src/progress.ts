import { bytes, clock, count } from './format';

export interface ProgressSample {
  status: string;
  records: number;
  committed: number;
  bytes: number;
  /** The source's estimate of the records, when it sent one. */
  estimated: number | null;
  elapsedMs: number;
}

/** Rows per second over the last `windowMs` of samples. */
export class RateMeter {
  #samples: Array<{ t: number; n: number }> = [];
  constructor(private readonly windowMs = 10_000) {}
  add(t: number, n: number): number | null {
    this.#samples.push({ t, n });
    while (this.#samples.length > 2 && t - this.#samples[0]!.t > this.windowMs) this.#samples.shift();
    const first = this.#samples[0]!;
    const dt = t - first.t;
    return dt > 0 ? Math.max(0, ((n - first.n) * 1000) / dt) : null;
  }
}

const WIDTH = 28;

/** `[#########...........]  45%  1,234/2,700 records  1.2 MB  456 rows/s  00:12`, or a sliding block without an estimate. */
export function renderBar(s: ProgressSample, rate: number | null, tick: number): string {
  let bar: string;
  let pct = '';
  if (s.estimated && s.estimated > 0) {
    const f = Math.min(1, s.records / s.estimated);
    const filled = Math.round(f * WIDTH);
    bar = `${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}`;
    pct = `${String(Math.floor(f * 100)).padStart(3)}%  `;
  } else {
    const pos = tick % (WIDTH - 4);
    bar = `${'.'.repeat(pos)}####${'.'.repeat(WIDTH - 4 - pos)}`;
  }
  const records = s.estimated ? `${count(s.records)}/${count(s.estimated)}` : count(s.records);
  return `[${bar}] ${pct}${records} records  ${bytes(s.bytes)}  ${rate === null ? '-' : count(rate)} rows/s  ${clock(s.elapsedMs)}  ${s.status}`;
}

/**
 * Draws the bar on stderr: redrawn in place on a terminal, a line every few seconds otherwise
 * (CI logs stay readable).
 */
export class ProgressBar {
  #tick = 0;
  #lastLine = 0;
  #meter = new RateMeter();
  #drawn = false;
  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly lineEveryMs = 5_000,
  ) {}

  update(s: ProgressSample, now = Date.now()): number | null {
    const rate = this.#meter.add(now, s.records);
    const text = renderBar(s, rate, this.#tick++);
    if (this.out.isTTY) {
      const cols = this.out.columns ?? 120;
      this.out.write(`\r\x1b[2K${text.slice(0, cols - 1)}`);
      this.#drawn = true;
    } else if (now - this.#lastLine >= this.lineEveryMs) {
      this.out.write(`${text}\n`);
      this.#lastLine = now;
    }
    return rate;
  }

  done(): void {
    if (this.#drawn) this.out.write('\n');
    this.#drawn = false;
  }
}
