import { useEffect, useState } from "preact/hooks";
import { api, type CatalogJson, type CatalogType, type DeliveryJson } from "../api";
import type { PageProps } from "../app";
import { followDeliveries } from "../live";
import { Card, ErrorNote, StatusNote, useLoad } from "../ui";
import { DeliveryDetail, statusBadge, upsert } from "./deliveries";

/** A type's sample as this app would send it: the sample's placeholder app_id becomes the app's own. */
function testEvent(entry: CatalogType, typeField: string, appId: string): Record<string, unknown> {
  const event: Record<string, unknown> = { ...entry.sample, [typeField]: entry.type };
  if ("app_id" in event) event.app_id = appId;
  return event;
}

/** Sends a test event from a type's sample (editable) and shows its deliveries as they happen. */
function SendTestEvent(props: PageProps & { entry: CatalogType; typeField: string }) {
  const { session, entry, typeField } = props;
  const [text, setText] = useState(() => JSON.stringify(testEvent(entry, typeField, session.appId), null, 2));
  const [error, setError] = useState<unknown>(undefined);
  const [eventId, setEventId] = useState<string | undefined>(undefined);
  const [deliveries, setDeliveries] = useState<DeliveryJson[]>([]);
  const [open, setOpen] = useState<string | undefined>(undefined);
  useEffect(() => {
    if (!eventId) return;
    const look = async () => {
      const page = await api<{ deliveries: DeliveryJson[] }>(
        session,
        "GET",
        `/v1/deliveries?event_id=${encodeURIComponent(eventId)}`,
      );
      setDeliveries((current) => page.deliveries.reduce(upsert, current));
    };
    void look().catch(setError);
    return followDeliveries(session, {
      onDelivery: (delivery) => {
        if (delivery.event_id === eventId) setDeliveries((current) => upsert(current, delivery));
      },
      onReady: () => void look().catch(setError),
    });
  }, [eventId]);
  const send = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setDeliveries([]);
    setOpen(undefined);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (failure) {
      setError(new Error(`The event is not valid JSON: ${(failure as Error).message}`));
      return;
    }
    try {
      const published = await api<{ id: string }>(session, "POST", "/v1/events", body);
      setEventId(published.id);
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <Card title={`Send a test ${entry.type}`} id="send-test">
      <p>{entry.description}</p>
      <form onSubmit={send}>
        <label for="event-json">Event (JSON, as receivers will get it)</label>
        <textarea
          id="event-json"
          rows={14}
          spellcheck={false}
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <button type="submit">Send test event</button>
      </form>
      <ErrorNote error={error} />
      {eventId && (
        <StatusNote text={`Published ${eventId}. ${deliveries.length === 0 ? "Waiting for deliveries…" : ""}`} />
      )}
      <ul class="arrivals" aria-label="Deliveries of the test event">
        {deliveries.map((d) => (
          <li key={d.id}>
            {statusBadge(d.status)} {d.type} · {d.attempts} attempt{d.attempts === 1 ? "" : "s"}
            {d.attempt_log.at(-1)?.status_code != null && ` · HTTP ${d.attempt_log.at(-1)?.status_code}`}{" "}
            <button type="button" class="link" onClick={() => setOpen(d.id)}>
              Attempts
            </button>
          </li>
        ))}
      </ul>
      {eventId && deliveries.length === 0 && (
        <p class="hint">No endpoint may subscribe to this type: check its filter.</p>
      )}
      {open && <DeliveryDetail key={open} {...props} id={open} />}
    </Card>
  );
}

export function CatalogPage(props: PageProps) {
  const catalog = useLoad(() => api<CatalogJson>(props.session, "GET", "/v1/catalog"), []);
  const [search, setSearch] = useState("");
  const [chosen, setChosen] = useState<{ entry: CatalogType; typeField: string } | undefined>(undefined);
  return (
    <div class="columns">
      <Card title="Event types">
        <ErrorNote error={catalog.error} />
        <label>
          Search types <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
        {catalog.value?.vocabularies.map((vocabulary) => (
          <section key={vocabulary.id} aria-label={`${vocabulary.id} vocabulary`}>
            <h3>{vocabulary.id}</h3>
            <ul class="types">
              {vocabulary.types
                .filter(
                  (t) =>
                    search === "" ||
                    t.type.includes(search) ||
                    t.description.toLowerCase().includes(search.toLowerCase()),
                )
                .map((t) => (
                  <li key={`${vocabulary.id}-${t.type}`}>
                    <button
                      type="button"
                      class="link"
                      aria-pressed={chosen?.entry === t}
                      onClick={() => setChosen({ entry: t, typeField: vocabulary.type_field })}
                    >
                      {t.type}
                    </button>{" "}
                    <span class="hint">{t.description}</span>
                  </li>
                ))}
            </ul>
          </section>
        ))}
      </Card>
      {chosen && <SendTestEvent key={chosen.entry.type} {...props} entry={chosen.entry} typeField={chosen.typeField} />}
    </div>
  );
}
