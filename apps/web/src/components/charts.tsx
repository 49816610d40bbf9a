/** Small SVG bar charts: no chart library, readable by screen readers through each bar's title. */

export interface Bar {
  key: string;
  value: number;
  /** Colours the bar: succeeded, failed, cancelled… */
  status?: string;
  /** Tooltip and accessible name of the bar. */
  title: string;
}

export function BarChart({
  bars,
  label,
  format,
  height = 140,
}: {
  bars: Bar[];
  label: string;
  format(n: number): string;
  height?: number;
}) {
  const width = 600;
  const pad = { top: 10, right: 8, bottom: 18, left: 56 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const slot = bars.length > 0 ? innerW / bars.length : innerW;
  const barW = Math.max(2, Math.min(28, slot * 0.7));
  if (bars.length === 0) return <p className="muted">No data yet.</p>;
  return (
    <svg className="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      <line
        className="axis"
        x1={pad.left}
        x2={width - pad.right}
        y1={pad.top + innerH}
        y2={pad.top + innerH}
      />
      <line className="axis" x1={pad.left} x2={pad.left} y1={pad.top} y2={pad.top + innerH} />
      <text x={pad.left - 6} y={pad.top + 8} textAnchor="end">
        {format(max)}
      </text>
      <text x={pad.left - 6} y={pad.top + innerH} textAnchor="end">
        0
      </text>
      {bars.map((b, i) => {
        const h = (b.value / max) * innerH;
        const x = pad.left + i * slot + (slot - barW) / 2;
        return (
          <rect
            key={b.key}
            className={`bar ${b.status ?? ''}`}
            x={x}
            y={pad.top + innerH - h}
            width={barW}
            height={Math.max(h, b.value > 0 ? 1 : 0)}
            rx={2}
          >
            <title>{b.title}</title>
          </rect>
        );
      })}
      <text x={pad.left} y={height - 4}>
        older
      </text>
      <text x={width - pad.right} y={height - 4} textAnchor="end">
        newer
      </text>
    </svg>
  );
}
