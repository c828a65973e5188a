import { useEffect, useState } from "preact/hooks";
import { api, type EndpointJson, type EndpointStats, type StatsJson } from "../api";
import type { PageProps } from "../app";
import { Lines, StackedBars } from "../charts";
import { Badge, ErrorNote, formatAge, ms, percent, useLoad } from "../ui";

/**
 * How an endpoint is doing in the window. Failing when attempts fail without successes to match: a success
 * rate below 1, failed attempts (last_error) with no success at all, or with deliveries waiting — deliveries still pending after
 * failed attempts have no success rate yet ("—"), and are failing, not healthy.
 */
export function health(e: EndpointStats): "disabled" | "failing" | "idle" | "healthy" {
  if (!e.enabled) return "disabled";
  if (e.breaker === "open" || e.breaker === "half_open") return "failing";
  if (e.success_rate !== null && e.success_rate < 1) return "failing";
  if (e.succeeded === 0 && (e.failed > 0 || e.last_error !== null)) return "failing";
  // Earlier successes, but deliveries wait behind failed attempts now.
  if (e.last_error !== null && e.queue_depth > 0) return "failing";
  if (e.deliveries === 0) return "idle";
  return "healthy";
}

function HealthBadge({ stats }: { stats: EndpointStats }) {
  const state = health(stats);
  if (state === "disabled") {
    return <Badge tone="bad">disabled{stats.disabled_reason ? `: ${stats.disabled_reason}` : ""}</Badge>;
  }
  if (state === "failing") return <Badge tone="bad">failing</Badge>;
  if (state === "idle") return <Badge tone="off">idle</Badge>;
  return <Badge tone="ok">healthy</Badge>;
}

/** The sampled queue over the window: gaps where no sample was taken (Herald was not running). */
function QueueCharts({ series }: { series: EndpointStats["series"] }) {
  const ages = series.map((s) => s.oldest_pending_age_ms);
  const inMinutes = Math.max(0, ...ages.map((age) => age ?? 0)) >= 120_000;
  const unitMs = inMinutes ? 60_000 : 1000;
  return (
    <>
      <Lines
        title="Queue depth"
        unit="pending"
        series={[{ label: "largest sampled", className: "wait", values: series.map((s) => s.queue_depth) }]}
      />
      <Lines
        title="Oldest pending"
        unit={inMinutes ? "min" : "s"}
        series={[
          {
            label: "age, largest sampled",
            className: "wait",
            values: ages.map((age) => (age === null ? null : age / unitMs)),
          },
        ]}
      />
    </>
  );
}

/** Per endpoint: deliveries per minute, success rate, latency, queue; what needs a look comes first. */
export function OverviewPage({ session }: PageProps) {
  const [hours, setHours] = useState(3);
  // The breaker state comes from the endpoints themselves (GET /v1/endpoints knows it; the stats may not).
  const stats = useLoad(async () => {
    const [window, listed] = await Promise.all([
      api<StatsJson>(session, "GET", `/v1/stats?hours=${hours}`),
      api<{ endpoints: EndpointJson[] }>(session, "GET", "/v1/endpoints?limit=500"),
    ]);
    const breakers = new Map(listed.endpoints.map((endpoint) => [endpoint.id, endpoint.breaker]));
    const endpoints = window.endpoints.map((e) => ({ ...e, breaker: breakers.get(e.endpoint_id) ?? e.breaker }));
    return { ...window, endpoints };
  }, [hours]);
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
              <Badge tone="off">{e.profile}</Badge> <HealthBadge stats={e} />
              {e.breaker && e.breaker !== "closed" && (
                <>
                  {" "}
                  <Badge tone="bad">breaker {e.breaker.replace("_", " ")}</Badge>
                </>
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
            <QueueCharts series={e.series} />
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
