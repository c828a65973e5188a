import { useState } from "preact/hooks";
import { api, type EndpointJson } from "../api";
import type { PageProps } from "../app";
import { Card, ErrorNote, StatusNote, useLoad } from "../ui";

interface WebhookSettings {
  enabled: boolean;
  url: string;
  include_members?: boolean;
  include_unread_count?: boolean;
  enabled_events: string[];
  all_webhook_categories?: string[];
}

/** Categories grouped by what comes before the colon: `group_channel:message_send` is in `group_channel`. */
const groupOf = (category: string) => (category.includes(":") ? category.slice(0, category.indexOf(":")) : "other");

/** Sendbird's webhook form (Chat or Calls): enable, URL, grouped categories with search and select-all. */
function SendbirdWebhookForm({
  session,
  title,
  path,
  memberOptions,
}: PageProps & { title: string; path: string; memberOptions: boolean }) {
  const id = title.replace(/\W+/g, "-").toLowerCase();
  const loaded = useLoad(
    () => api<{ webhook: WebhookSettings }>(session, "GET", `${path}?display_all_webhook_categories=true`),
    [path],
  );
  const [draft, setDraft] = useState<WebhookSettings | undefined>(undefined);
  const [search, setSearch] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState("");
  const current = draft ?? loaded.value?.webhook;
  if (!current) return <Card title={title}>{loaded.error ? <ErrorNote error={loaded.error} /> : <p>Loading…</p>}</Card>;
  const all = loaded.value?.webhook.all_webhook_categories ?? [];
  const every = current.enabled_events.includes("*");
  const chosen = new Set(current.enabled_events);
  const edit = (change: Partial<WebhookSettings>) => {
    setSaved("");
    setDraft({ ...current, ...change });
  };
  const toggle = (categories: string[], on: boolean) => {
    const next = new Set(chosen);
    for (const category of categories) on ? next.add(category) : next.delete(category);
    edit({ enabled_events: all.filter((category) => next.has(category)) });
  };
  const groups = new Map<string, string[]>();
  for (const category of all) {
    if (search !== "" && !category.toLowerCase().includes(search.toLowerCase())) continue;
    groups.set(groupOf(category), [...(groups.get(groupOf(category)) ?? []), category]);
  }
  const save = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setSaved("");
    const body: Record<string, unknown> = {
      enabled: current.enabled,
      url: current.url,
      enabled_events: current.enabled_events,
    };
    if (memberOptions) {
      body.include_members = current.include_members ?? false;
      body.include_unread_count = current.include_unread_count ?? false;
    }
    try {
      const answer = await api<{ webhook: WebhookSettings }>(session, "PUT", path, body);
      setDraft({ ...answer.webhook });
      setSaved("Saved.");
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <Card title={title} id={id}>
      <form onSubmit={save} aria-labelledby={`${id}-title`}>
        <div class="row">
          <label>
            <input
              type="checkbox"
              checked={current.enabled}
              onChange={(e) => edit({ enabled: e.currentTarget.checked })}
            />{" "}
            Enabled
          </label>
        </div>
        <label for={`${id}-url`}>Webhook URL</label>
        <input
          id={`${id}-url`}
          type="text"
          inputMode="url"
          value={current.url}
          onInput={(e) => edit({ url: e.currentTarget.value })}
          placeholder="https://example.com/webhooks/sendbird"
        />
        {memberOptions && (
          <div class="row">
            <label>
              <input
                type="checkbox"
                checked={current.include_members ?? false}
                onChange={(e) => edit({ include_members: e.currentTarget.checked })}
              />{" "}
              Include members
            </label>
            <label>
              <input
                type="checkbox"
                checked={current.include_unread_count ?? false}
                onChange={(e) => edit({ include_unread_count: e.currentTarget.checked })}
              />{" "}
              Include unread count
            </label>
          </div>
        )}
        <fieldset>
          <legend>Event categories</legend>
          <label>
            <input
              type="checkbox"
              checked={every}
              onChange={(e) => edit({ enabled_events: e.currentTarget.checked ? ["*"] : [] })}
            />{" "}
            Every category, including ones added later
          </label>
          <label for={`${id}-search`}>Search categories</label>
          <input id={`${id}-search`} type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
          <div class="groups">
            {[...groups].map(([group, categories]) => {
              const selected = categories.filter((c) => every || chosen.has(c)).length;
              return (
                <fieldset key={group} class="group" disabled={every}>
                  <legend>{group}</legend>
                  <label class="select-all">
                    <input
                      type="checkbox"
                      checked={selected === categories.length}
                      ref={(el) => {
                        if (el) el.indeterminate = selected > 0 && selected < categories.length;
                      }}
                      onChange={(e) => toggle(categories, e.currentTarget.checked)}
                    />{" "}
                    Select all {group} ({selected}/{categories.length})
                  </label>
                  {categories.map((category) => (
                    <label key={category}>
                      <input
                        type="checkbox"
                        name="category"
                        value={category}
                        checked={every || chosen.has(category)}
                        onChange={(e) => toggle([category], e.currentTarget.checked)}
                      />{" "}
                      {category}
                    </label>
                  ))}
                </fieldset>
              );
            })}
          </div>
        </fieldset>
        <button type="submit">Save {title}</button>
        <ErrorNote error={error} />
        {saved && <StatusNote text={saved} />}
      </form>
    </Card>
  );
}

/** Stream's hooks are endpoints of their own profiles: their URL and switch, edited through /v1/endpoints. */
function StreamSettings({ session }: PageProps) {
  const endpoints = useLoad(() => api<{ endpoints: EndpointJson[] }>(session, "GET", "/v1/endpoints?limit=500"), []);
  const [error, setError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState("");
  const stream = endpoints.value?.endpoints.filter((e) => e.profile.startsWith("stream")) ?? [];
  const save = async (endpoint: EndpointJson, form: HTMLFormElement) => {
    const data = new FormData(form);
    setError(undefined);
    setSaved("");
    try {
      const change: Record<string, unknown> = { url: String(data.get("url")), enabled: data.get("enabled") === "on" };
      // Stream's push webhook may gzip its bodies; the synchronous hooks never do.
      if (endpoint.profile === "stream")
        change.options = { ...endpoint.options, compress: data.get("compress") === "on" };
      await api(session, "PATCH", `/v1/endpoints/${endpoint.id}`, change);
      setSaved(`Saved ${endpoint.profile}.`);
      endpoints.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <Card title="Stream settings">
      <ErrorNote error={endpoints.error} />
      {endpoints.value && stream.length === 0 && (
        <p>
          No Stream hooks yet: set <code>webhook_url</code>, before-message-send or custom command URLs with Stream's
          server client (<code>PATCH /app</code>), or create a <code>stream</code> endpoint.
        </p>
      )}
      {stream.map((endpoint) => (
        <form
          key={endpoint.id}
          class="stream-hook"
          aria-label={`Stream hook ${endpoint.profile}`}
          onSubmit={(event) => {
            event.preventDefault();
            void save(endpoint, event.currentTarget);
          }}
        >
          <h3>{endpoint.profile}</h3>
          <label for={`${endpoint.id}-url`}>URL</label>
          <input id={`${endpoint.id}-url`} name="url" type="text" defaultValue={endpoint.url} />
          <label>
            <input name="enabled" type="checkbox" defaultChecked={endpoint.enabled} /> Enabled
          </label>
          {endpoint.profile === "stream" && (
            <label>
              <input name="compress" type="checkbox" defaultChecked={endpoint.options?.compress === true} /> Compress
              bodies (gzip)
            </label>
          )}
          <p class="hint">Events: {endpoint.filter.length === 0 ? "every type" : endpoint.filter.join(", ")}</p>
          <button type="submit">Save {endpoint.profile}</button>
        </form>
      ))}
      <ErrorNote error={error} />
      {saved && <StatusNote text={saved} />}
    </Card>
  );
}

export function SettingsPage(props: PageProps) {
  return (
    <div class="columns">
      <SendbirdWebhookForm {...props} title="Chat webhook" path="/v3/applications/settings/webhook" memberOptions />
      <SendbirdWebhookForm
        {...props}
        title="Calls webhook"
        path={`/v1/applications/${encodeURIComponent(props.session.appId)}/settings/webhook`}
        memberOptions={false}
      />
      <StreamSettings {...props} />
    </div>
  );
}
