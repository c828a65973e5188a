/** Small SVG charts, labelled for screen readers with what they show in words. */

interface Series {
  label: string;
  values: (number | null)[];
  className: string;
}

/** Stacked bars (deliveries per bucket by outcome). */
export function StackedBars({ title, series, height = 80 }: { title: string; series: Series[]; height?: number }) {
  const count = series[0]?.values.length ?? 0;
  const totals = Array.from({ length: count }, (_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const width = 360;
  const barWidth = width / Math.max(1, count);
  const summary = series.map((s) => `${s.label} ${s.values.reduce<number>((a, v) => a + (v ?? 0), 0)}`).join(", ");
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}: ${summary}`} preserveAspectRatio="none">
        {Array.from({ length: count }, (_, i) => {
          let y = height;
          return series.map((s) => {
            const h = ((s.values[i] ?? 0) / max) * (height - 4);
            y -= h;
            return h > 0 ? (
              <rect
                key={`${s.label}-${i}`}
                class={s.className}
                x={i * barWidth + 1}
                y={y}
                width={Math.max(1, barWidth - 2)}
                height={h}
              />
            ) : null;
          });
        })}
      </svg>
      <figcaption>
        {title}
        {series.map((s) => (
          <span key={s.label} class={`legend ${s.className}`}>
            {s.label}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

/** Lines (latency p50/p99 per bucket); gaps where there was nothing to measure. */
export function Lines({
  title,
  series,
  unit,
  height = 80,
}: {
  title: string;
  series: Series[];
  unit: string;
  height?: number;
}) {
  const count = series[0]?.values.length ?? 0;
  const max = Math.max(1, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const width = 360;
  // Inset by the dots' radius, so the first, last, highest and lowest points show whole.
  const inset = 4;
  const step = (width - 2 * inset) / Math.max(1, count - 1);
  const xAt = (i: number) => inset + i * step;
  const yAt = (value: number) => height - inset - (value / max) * (height - 2 * inset);
  const path = (values: (number | null)[]) => {
    let d = "";
    let pen = false;
    values.forEach((value, i) => {
      if (value === null) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${xAt(i).toFixed(1)},${yAt(value).toFixed(1)} `;
      pen = true;
    });
    return d;
  };
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`${title}, up to ${Math.round(max)} ${unit}`}
        preserveAspectRatio="none"
      >
        {series.map((s) => (
          <path key={s.label} class={`line ${s.className}`} d={path(s.values)} />
        ))}
        {/* A dot per measured bucket, so a lone measurement shows too. */}
        {series.flatMap((s) =>
          s.values.map((value, i) =>
            value === null ? null : (
              <circle key={`${s.label}-${i}`} class={`dot ${s.className}`} cx={xAt(i)} cy={yAt(value)} r={2.5} />
            ),
          ),
        )}
      </svg>
      <figcaption>
        {title} (max {Math.round(max)} {unit})
        {series.map((s) => (
          <span key={s.label} class={`legend ${s.className}`}>
            {s.label}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
