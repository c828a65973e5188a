import { useEffect, useState } from "preact/hooks";
import { api, type DeliveryJson, type EndpointJson, query } from "../api";
import type { PageProps } from "../app";
import { followDeliveries } from "../live";
import { Badge, Card, ErrorNote, formatTime, StatusNote, useLoad } from "../ui";

interface Filters {
  endpoint_id: string;
  type: string;
  status: string;
  created_after: string;
  created_before: string;
}

const EMPTY: Filters = { endpoint_id: "", type: "", status: "", created_after: "", created_before: "" };
const toIso = (local: string) => (local === "" ? "" : new Date(local).toISOString());

export const statusBadge = (status: string) => (
  <Badge tone={status === "succeeded" ? "ok" : status === "failed" ? "bad" : "wait"}>{status}</Badge>
);

/** Whether a live update belongs in the list as filtered. */
function matches(delivery: DeliveryJson, filters: Filters): boolean {
  if (filters.endpoint_id && delivery.endpoint_id !== filters.endpoint_id) return false;
  if (filters.type && delivery.type !== filters.type) return false;
  if (filters.status && delivery.status !== filters.status) return false;
  if (filters.created_after && delivery.created_at < toIso(filters.created_after)) return false;
  if (filters.created_before && delivery.created_at >= toIso(filters.created_before)) return false;
  return true;
}

/** Puts a delivery in its place in a newest-first list, replacing its older version. */
export function upsert(list: DeliveryJson[], delivery: DeliveryJson): DeliveryJson[] {
  const rest = list.filter((d) => d.id !== delivery.id);
  return [delivery, ...rest].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
}

const Headers = ({ headers }: { headers: Record<string, string> | null }) =>
  headers ? (
    <pre class="headers">
      {Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}`)
        .join("\n")}
    </pre>
  ) : (
    <p class="hint">not recorded</p>
  );

/** One delivery with every attempt: what was sent, what came back, how long, and why it failed. */
export function DeliveryDetail({ session, id, onChanged }: PageProps & { id: string; onChanged?: () => void }) {
  const delivery = useLoad(() => api<DeliveryJson>(session, "GET", `/v1/deliveries/${encodeURIComponent(id)}`), [id]);
  const [error, setError] = useState<unknown>(undefined);
  const [note, setNote] = useState("");
  const [body, setBody] = useState<string | undefined>(undefined);
  const showBody = async (open: boolean) => {
    if (!open || body !== undefined || !delivery.value) return;
    try {
      const event = await api<{ payload: unknown }>(
        session,
        "GET",
        `/v1/events/${encodeURIComponent(delivery.value.event_id)}`,
      );
      setBody(JSON.stringify(event.payload, null, 2));
    } catch (failure) {
      setError(failure);
    }
  };
  useEffect(() => {
    // A pending delivery is still moving: look again while it is on screen.
    if (delivery.value?.status !== "pending") return;
    const timer = setTimeout(delivery.reload, 1000);
    return () => clearTimeout(timer);
  }, [delivery.value]);
  const resend = async () => {
    setError(undefined);
    setNote("");
    try {
      await api(session, "POST", `/v1/deliveries/${encodeURIComponent(id)}/retry`, {});
      setNote("Resent: it is pending again under the same webhook id.");
      delivery.reload();
      onChanged?.();
    } catch (failure) {
      setError(failure);
    }
  };
  const d = delivery.value;
  return (
    <Card title="Delivery" id="delivery-detail">
      <ErrorNote error={delivery.error} />
      {d && (
        <>
          <dl class="numbers">
            <dt>Webhook id</dt>
            <dd>
              <code>{d.id}</code>
            </dd>
            <dt>Type</dt>
            <dd>{d.type}</dd>
            <dt>Status</dt>
            <dd>{statusBadge(d.status)}</dd>
            <dt>Attempts</dt>
            <dd>
              {d.attempts} of {d.max_attempts}
            </dd>
            <dt>Event</dt>
            <dd>
              <code>{d.event_id}</code>
            </dd>
          </dl>
          <button type="button" onClick={resend} disabled={d.status === "pending"}>
            Resend
          </button>
          <ErrorNote error={error} />
          {note && <StatusNote text={note} />}
          <details onToggle={(e) => void showBody((e.currentTarget as HTMLDetailsElement).open)}>
            <summary>Request body</summary>
            <p class="hint">
              The event as published; every attempt sends it rendered and signed by the endpoint's wire format.
            </p>
            <pre class="body">{body ?? "Loading…"}</pre>
          </details>
          <h3>Attempts</h3>
          {d.attempt_log.length === 0 && <p>No attempt yet.</p>}
          <ol class="attempts">
            {d.attempt_log.map((a) => (
              <li key={a.attempt} class="attempt" aria-label={`Attempt ${a.attempt}`}>
                <p>
                  <strong>Attempt {a.attempt}</strong> · {formatTime(a.started_at)} · {a.duration_ms} ms ·{" "}
                  {a.status_code === null ? "no answer" : `HTTP ${a.status_code}`}
                  {a.error_class && (
                    <>
                      {" "}
                      · <Badge tone="bad">{a.error_class}</Badge>
                    </>
                  )}
                  {a.error && ` · ${a.error}`}
                </p>
                <details>
                  <summary>Request headers</summary>
                  <Headers headers={a.request_headers} />
                </details>
                <details>
                  <summary>Response headers and body</summary>
                  <Headers headers={a.response_headers} />
                  <pre class="body">
                    {a.response_body ?? ""}
                    {a.response_truncated ? "\n… (cut off)" : ""}
                  </pre>
                </details>
              </li>
            ))}
          </ol>
        </>
      )}
    </Card>
  );
}

interface Recovery {
  id: string;
  status: "running" | "succeeded" | "failed";
  recovered: number;
  /** Left failed: resent by hand as often as HERALD_MAX_MANUAL_RETRIES allows. */
  skipped: number;
  total: number | null;
}

/** Recover every failed delivery of an endpoint since a time, as a background job with progress. */
function RecoverForm({ session, endpoints }: PageProps & { endpoints: EndpointJson[] }) {
  const [endpointId, setEndpointId] = useState("");
  const [since, setSince] = useState("");
  const [job, setJob] = useState<Recovery | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    if (job?.status !== "running") return;
    const timer = setTimeout(async () => {
      try {
        setJob(await api<Recovery>(session, "GET", `/v1/recoveries/${encodeURIComponent(job.id)}`));
      } catch (failure) {
        setError(failure);
      }
    }, 1000);
    return () => clearTimeout(timer);
  }, [job]);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setJob(undefined);
    try {
      setJob(
        await api<Recovery>(session, "POST", `/v1/endpoints/${encodeURIComponent(endpointId)}/recover`, {
          since: toIso(since),
        }),
      );
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <form class="recover" onSubmit={submit} aria-label="Recover failed deliveries">
      <h3>Recover failed deliveries</h3>
      <label for="recover-endpoint">Endpoint</label>
      <select id="recover-endpoint" required value={endpointId} onChange={(e) => setEndpointId(e.currentTarget.value)}>
        <option value="">Choose…</option>
        {endpoints.map((e) => (
          <option key={e.id} value={e.id}>
            {e.url || e.id}
          </option>
        ))}
      </select>
      <label for="recover-since">Failed since</label>
      <input
        id="recover-since"
        type="datetime-local"
        required
        value={since}
        onInput={(e) => setSince(e.currentTarget.value)}
      />
      <button type="submit">Recover</button>
      <ErrorNote error={error} />
      {job && (
        <div role="status" aria-live="polite">
          <progress max={job.total ?? undefined} value={job.recovered + job.skipped} aria-label="Recovery progress" />{" "}
          {job.status === "running" ? "Recovering" : job.status === "succeeded" ? "Recovered" : "Recovery failed after"}{" "}
          {job.recovered}
          {job.total !== null && ` of ${job.total}`}
          {job.skipped > 0 && ` (${job.skipped} skipped: resent by hand as often as allowed)`}
        </div>
      )}
    </form>
  );
}

export function DeliveriesPage(props: PageProps) {
  const { session } = props;
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [live, setLive] = useState("connecting");
  const [cursor, setCursor] = useState<string | null>(null);
  const endpoints = useLoad(() => api<{ endpoints: EndpointJson[] }>(session, "GET", "/v1/endpoints?limit=500"), []);
  const list = useLoad(async () => {
    const page = await api<{ deliveries: DeliveryJson[]; next_cursor: string | null }>(
      session,
      "GET",
      `/v1/deliveries${query({
        endpoint_id: applied.endpoint_id,
        type: applied.type,
        status: applied.status,
        created_after: toIso(applied.created_after),
        created_before: toIso(applied.created_before),
        limit: 50,
      })}`,
    );
    setCursor(page.next_cursor);
    return page.deliveries;
  }, [applied]);
  useEffect(
    () =>
      followDeliveries(session, {
        onDelivery: (delivery) => {
          if (matches(delivery, applied)) list.setValue((current) => upsert(current ?? [], delivery));
        },
        // The stream watches from now on: load the list again so nothing falls between.
        onReady: list.reload,
        onState: setLive,
      }),
    [applied],
  );
  const more = async () => {
    if (!cursor) return;
    const page = await api<{ deliveries: DeliveryJson[]; next_cursor: string | null }>(
      session,
      "GET",
      `/v1/deliveries${query({ ...applied, created_after: toIso(applied.created_after), created_before: toIso(applied.created_before), limit: 50, cursor })}`,
    );
    setCursor(page.next_cursor);
    list.setValue((current) => [...(current ?? []), ...page.deliveries]);
  };
  const field = (name: keyof Filters) => ({
    value: filters[name],
    onInput: (e: Event) => setFilters({ ...filters, [name]: (e.currentTarget as HTMLInputElement).value }),
  });
  const endpointUrl = (id: string) => endpoints.value?.endpoints.find((e) => e.id === id)?.url ?? id;
  return (
    <div class="columns">
      <div>
        <form
          class="filters"
          aria-label="Filter deliveries"
          onSubmit={(event) => {
            event.preventDefault();
            setApplied(filters);
          }}
        >
          <label>
            Endpoint
            <select {...field("endpoint_id")} onChange={field("endpoint_id").onInput}>
              <option value="">all</option>
              {endpoints.value?.endpoints.map((e) => (
                <option key={e.id} value={e.id}>
                  {e.url || e.id}
                </option>
              ))}
            </select>
          </label>
          <label>
            Type <input type="text" {...field("type")} placeholder="group_channel:message_send" />
          </label>
          <label>
            Status
            <select {...field("status")} onChange={field("status").onInput}>
              <option value="">all</option>
              <option>pending</option>
              <option>succeeded</option>
              <option>failed</option>
            </select>
          </label>
          <label>
            After <input type="datetime-local" {...field("created_after")} />
          </label>
          <label>
            Before <input type="datetime-local" {...field("created_before")} />
          </label>
          <button type="submit">Apply filters</button>
        </form>
        <p class="hint" aria-live="polite">
          {live === "live" ? "● Live: new deliveries appear as they happen." : live}
        </p>
        <ErrorNote error={list.error} />
        <div class="table-wrap">
          <table class="log">
            <caption class="visually-hidden">Deliveries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Type</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
              </tr>
            </thead>
            <tbody>
              {list.value?.map((d) => (
                <tr key={d.id} class={d.id === selected ? "selected" : ""} data-delivery-id={d.id}>
                  <td>
                    <button
                      type="button"
                      class="link"
                      onClick={() => setSelected(d.id)}
                      aria-label={`Open delivery ${d.id}`}
                    >
                      {formatTime(d.created_at)}
                    </button>
                  </td>
                  <td>{d.type}</td>
                  <td class="url">{endpointUrl(d.endpoint_id)}</td>
                  <td>{statusBadge(d.status)}</td>
                  <td>{d.attempts}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {list.value?.length === 0 && <p>No deliveries match.</p>}
        {cursor && (
          <button type="button" onClick={more}>
            Older deliveries
          </button>
        )}
        <RecoverForm {...props} endpoints={endpoints.value?.endpoints ?? []} />
      </div>
      {selected && <DeliveryDetail key={selected} {...props} id={selected} onChanged={list.reload} />}
    </div>
  );
}
