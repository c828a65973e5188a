import { credentialHeaders, type DeliveryJson, type Session } from "./api";

/**
 * Follows `GET /v1/live/deliveries` (server-sent events) with `fetch`, because `EventSource` cannot
 * send the credential in a header and a token never goes in a URL. Reconnects after a drop.
 * Returns a function that stops it.
 */
export function followDeliveries(
  session: Session,
  handlers: { onDelivery: (delivery: DeliveryJson) => void; onReady?: () => void; onState?: (state: string) => void },
): () => void {
  const controller = new AbortController();
  let stopped = false;

  const dispatch = (block: string) => {
    let event = "message";
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data += line.slice(5).trim();
    }
    if (event === "ready") handlers.onReady?.();
    else if (event === "delivery" && data !== "") handlers.onDelivery(JSON.parse(data) as DeliveryJson);
  };

  const run = async () => {
    while (!stopped) {
      try {
        const response = await fetch("/v1/live/deliveries", {
          headers: credentialHeaders(session.token, session.admin ? session.appId : undefined),
          signal: controller.signal,
          cache: "no-store",
        });
        if (!response.ok || !response.body) {
          const body = (await response.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
          handlers.onState?.(`Live updates unavailable: ${body?.error?.message ?? `HTTP ${response.status}`}`);
        } else {
          handlers.onState?.("live");
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let end = buffer.indexOf("\n\n");
            while (end >= 0) {
              dispatch(buffer.slice(0, end));
              buffer = buffer.slice(end + 2);
              end = buffer.indexOf("\n\n");
            }
          }
          handlers.onState?.("reconnecting");
        }
      } catch {
        if (stopped) return;
        handlers.onState?.("reconnecting");
      }
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  };
  void run();
  return () => {
    stopped = true;
    controller.abort();
  };
}
