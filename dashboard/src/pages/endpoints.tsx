import { useState } from "preact/hooks";
import { api, type CatalogJson, type EndpointJson, type StatsJson } from "../api";
import type { PageProps } from "../app";
import { Badge, Card, ErrorNote, percent, SecretOnce, StatusNote, useLoad } from "../ui";

const PROFILES = ["standard", "sendbird", "sendbird-calls", "stream"];

/** Picks event types from the catalog, with each group's wildcard; empty means every type. */
function TypePicker({
  catalog,
  vocabulary,
  value,
  onChange,
  label,
}: {
  catalog: CatalogJson | undefined;
  vocabulary: string;
  value: string[];
  onChange: (next: string[]) => void;
  label: string;
}) {
  const [search, setSearch] = useState("");
  const types = catalog?.vocabularies.find((v) => v.id === vocabulary)?.types ?? [];
  const wildcards = [...new Set(types.map((t) => t.type.split(/[:.]/)[0]))].map(
    (prefix) => `${prefix}${types.find((t) => t.type.startsWith(`${prefix}:`)) ? ":" : "."}*`,
  );
  const options = [...wildcards, ...types.map((t) => t.type)].filter(
    (option) => search === "" || option.toLowerCase().includes(search.toLowerCase()),
  );
  const chosen = new Set(value);
  return (
    <fieldset class="picker">
      <legend>{label}</legend>
      <p class="hint">
        {value.length === 0 ? "Every type, including ones added later." : `${value.length} chosen: ${value.join(", ")}`}
      </p>
      <label>
        Search types <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
      </label>
      <div class="picker-list">
        {options.slice(0, 200).map((option) => (
          <label key={option}>
            <input
              type="checkbox"
              checked={chosen.has(option)}
              onChange={(e) =>
                onChange(e.currentTarget.checked ? [...value, option] : value.filter((v) => v !== option))
              }
            />{" "}
            {option}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function CreateEndpoint({ session, catalog, onCreated }: PageProps & { catalog?: CatalogJson; onCreated: () => void }) {
  const [url, setUrl] = useState("");
  const [profile, setProfile] = useState("standard");
  const [description, setDescription] = useState("");
  const [filter, setFilter] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [secret, setSecret] = useState<string | undefined>(undefined);
  const vocabulary = profile === "stream" ? "stream" : "sendbird";
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setSecret(undefined);
    try {
      const created = await api<{ secret?: string }>(session, "POST", "/v1/endpoints", {
        url,
        profile,
        description,
        filter,
      });
      setSecret(created.secret ?? "");
      setUrl("");
      setFilter([]);
      onCreated();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <Card title="Create an endpoint">
      <form onSubmit={submit} aria-label="Create an endpoint">
        <label for="new-url">URL</label>
        <input
          id="new-url"
          type="text"
          inputMode="url"
          required
          value={url}
          onInput={(e) => setUrl(e.currentTarget.value)}
        />
        <label for="new-profile">Wire format</label>
        <select id="new-profile" value={profile} onChange={(e) => setProfile(e.currentTarget.value)}>
          {PROFILES.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
        <label for="new-description">Description</label>
        <input
          id="new-description"
          type="text"
          value={description}
          onInput={(e) => setDescription(e.currentTarget.value)}
        />
        <TypePicker catalog={catalog} vocabulary={vocabulary} value={filter} onChange={setFilter} label="Filter" />
        <button type="submit">Create endpoint</button>
        <ErrorNote error={error} />
      </form>
      {secret !== undefined &&
        (secret === "" ? (
          <StatusNote text="Created. This wire format signs with the app's own key; there is no endpoint secret." />
        ) : (
          <SecretOnce label="Signing secret" value={secret} />
        ))}
    </Card>
  );
}

function EndpointRow({
  session,
  endpoint,
  health,
  catalog,
  onChanged,
}: PageProps & {
  endpoint: EndpointJson;
  health?: StatsJson["endpoints"][number];
  catalog?: CatalogJson;
  onChanged: () => void;
}) {
  const [error, setError] = useState<unknown>(undefined);
  const [secret, setSecret] = useState<string | undefined>(undefined);
  const [editing, setEditing] = useState<string[] | undefined>(undefined);
  const [note, setNote] = useState("");
  const act = async (work: () => Promise<void>) => {
    setError(undefined);
    setNote("");
    try {
      await work();
      onChanged();
    } catch (failure) {
      setError(failure);
    }
  };
  const rotate = () =>
    act(async () => {
      const rotated = await api<{ secret?: string; signing_keys?: unknown }>(
        session,
        "POST",
        `/v1/endpoints/${endpoint.id}/secret/rotate`,
        {},
      );
      setSecret(rotated.secret ?? JSON.stringify(rotated));
    });
  return (
    <li class="endpoint" aria-label={`Endpoint ${endpoint.url}`}>
      <div class="endpoint-head">
        <strong class="url">{endpoint.url}</strong> <Badge tone="off">{endpoint.profile}</Badge>{" "}
        {endpoint.enabled ? <Badge tone="ok">enabled</Badge> : <Badge tone="bad">disabled</Badge>}
        {endpoint.breaker && endpoint.breaker !== "closed" && <Badge tone="bad">breaker {endpoint.breaker}</Badge>}
      </div>
      <p class="hint">
        {endpoint.description && `${endpoint.description} · `}
        Success {percent(health?.success_rate ?? null)}
        {endpoint.disabled_reason && ` · disabled: ${endpoint.disabled_reason}`}
        {health?.last_error && ` · last error: ${health.last_error.message}`} · filter:{" "}
        {endpoint.filter.length === 0 ? "every type" : endpoint.filter.join(", ")}
        {endpoint.rate_limit != null && ` · ${endpoint.rate_limit}/s`}
        {endpoint.max_concurrency != null && ` · ${endpoint.max_concurrency} at once`}
      </p>
      <div class="actions">
        <button
          type="button"
          onClick={() =>
            act(async () => {
              await api(session, "PATCH", `/v1/endpoints/${endpoint.id}`, { enabled: !endpoint.enabled });
              setNote(endpoint.enabled ? "Disabled." : "Enabled.");
            })
          }
        >
          {endpoint.enabled ? "Disable" : "Enable"}
        </button>
        <button type="button" onClick={() => setEditing(editing ? undefined : endpoint.filter)}>
          Edit filter
        </button>
        {endpoint.profile === "standard" && (
          <button type="button" onClick={rotate}>
            Rotate secret
          </button>
        )}
      </div>
      {editing && (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            void act(async () => {
              await api(session, "PATCH", `/v1/endpoints/${endpoint.id}`, { filter: editing });
              setEditing(undefined);
              setNote("Filter saved.");
            });
          }}
        >
          <TypePicker
            catalog={catalog}
            vocabulary={endpoint.vocabulary}
            value={editing}
            onChange={setEditing}
            label="Filter"
          />
          <button type="submit">Save filter</button>
        </form>
      )}
      {secret && <SecretOnce label="New signing secret" value={secret} />}
      <ErrorNote error={error} />
      {note && <StatusNote text={note} />}
    </li>
  );
}

export function EndpointsPage(props: PageProps) {
  const { session } = props;
  const endpoints = useLoad(() => api<{ endpoints: EndpointJson[] }>(session, "GET", "/v1/endpoints?limit=500"), []);
  const stats = useLoad(() => api<StatsJson>(session, "GET", "/v1/stats?hours=24"), []);
  const catalog = useLoad(() => api<CatalogJson>(session, "GET", "/v1/catalog"), []);
  const reload = () => {
    endpoints.reload();
    stats.reload();
  };
  return (
    <div class="columns">
      <Card title="Endpoints">
        <ErrorNote error={endpoints.error} />
        <ul class="endpoints">
          {endpoints.value?.endpoints.map((endpoint) => (
            <EndpointRow
              key={endpoint.id}
              {...props}
              endpoint={endpoint}
              catalog={catalog.value}
              health={stats.value?.endpoints.find((s) => s.endpoint_id === endpoint.id)}
              onChanged={reload}
            />
          ))}
        </ul>
        {endpoints.value?.endpoints.length === 0 && <p>No endpoints yet.</p>}
      </Card>
      <CreateEndpoint {...props} catalog={catalog.value} onCreated={reload} />
    </div>
  );
}
