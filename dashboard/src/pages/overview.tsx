import { useEffect, useState } from "preact/hooks";
import { api, type StatsJson } from "../api";
import type { PageProps } from "../app";
import { Lines, StackedBars } from "../charts";
import { Badge, ErrorNote, formatAge, ms, percent, useLoad } from "../ui";

/** Per endpoint: deliveries per minute, success rate, latency, queue; what needs a look comes first. */
export function OverviewPage({ session }: PageProps) {
  const [hours, setHours] = useState(3);
  const stats = useLoad(() => api<StatsJson>(session, "GET", `/v1/stats?hours=${hours}`), [hours]);
  useEffect(() => {
    const timer = setInterval(stats.reload, 10_000);
    return () => clearInterval(timer);
  }, [hours]);
  const minutes = (stats.value?.bucket_seconds ?? 0) / 60;
  return (
    <>
      <div class="toolbar">
        <label>
          Window{" "}
          <select value={hours} onChange={(e) => setHours(Number(e.currentTarget.value))}>
            {[1, 3, 6, 12, 24].map((h) => (
              <option key={h} value={h}>
                last {h} h
              </option>
            ))}
          </select>
        </label>
        {stats.value && !stats.value.complete && <span class="hint">Busy app: the newest 5,000 deliveries only.</span>}
      </div>
      <ErrorNote error={stats.error} />
      {stats.value && stats.value.endpoints.length === 0 && (
        <p>No endpoints yet. Set a webhook URL in Webhook settings or create an endpoint.</p>
      )}
      <div class="grid">
        {stats.value?.endpoints.map((e) => (
          <section class="card" key={e.endpoint_id} aria-label={`Endpoint ${e.url}`}>
            <h2 class="url">{e.url || e.endpoint_id}</h2>
            <p>
              <Badge tone="off">{e.profile}</Badge>{" "}
              {!e.enabled ? (
                <Badge tone="bad">disabled{e.disabled_reason ? `: ${e.disabled_reason}` : ""}</Badge>
              ) : e.breaker && e.breaker !== "closed" ? (
                <Badge tone="bad">breaker {e.breaker.replace("_", " ")}</Badge>
              ) : e.success_rate !== null && e.success_rate < 1 ? (
                <Badge tone="wait">failing</Badge>
              ) : (
                <Badge tone="ok">healthy</Badge>
              )}
            </p>
            <dl class="numbers">
              <dt>Success rate</dt>
              <dd>{percent(e.success_rate)}</dd>
              <dt>Latency p50 / p99</dt>
              <dd>
                {ms(e.latency_p50_ms)} / {ms(e.latency_p99_ms)}
              </dd>
              <dt>Queue depth</dt>
              <dd>{e.queue_depth}</dd>
              <dt>Oldest pending</dt>
              <dd>{formatAge(e.oldest_pending_age_ms)}</dd>
            </dl>
            <StackedBars
              title={`Deliveries per ${minutes.toFixed(0)} min`}
              series={[
                { label: "succeeded", className: "ok", values: e.series.map((s) => s.succeeded) },
                { label: "failed", className: "bad", values: e.series.map((s) => s.failed) },
                { label: "pending", className: "wait", values: e.series.map((s) => s.pending) },
              ]}
            />
            <Lines
              title="Attempt latency"
              unit="ms"
              series={[
                { label: "p50", className: "ok", values: e.series.map((s) => s.latency_p50_ms) },
                { label: "p99", className: "bad", values: e.series.map((s) => s.latency_p99_ms) },
              ]}
            />
            {e.last_error && (
              <p class="hint">
                Last error: {e.last_error.message} ({new Date(e.last_error.at).toLocaleTimeString()})
              </p>
            )}
          </section>
        ))}
      </div>
    </>
  );
}
