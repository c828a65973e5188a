// A publisher in its own process, so its work does not slow the bench's own timing: publishes
// batches to one app as fast as Herald takes them until told to stop, then reports the count.
import { Agent, request } from "undici";
import { event } from "./harness.js";

interface Start {
  url: string;
  token: string;
  batch: number;
  connections: number;
  /** Wall-clock milliseconds after which no new batch is sent. */
  stopAt: number;
}

process.once("message", async ({ url, token, batch, connections, stopAt }: Start) => {
  const agent = new Agent({ connections });
  let published = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < stopAt) {
        const events = Array.from({ length: batch }, (_, i) => event(published + i));
        const response = await request(`${url}/v1/events/batch`, {
          method: "POST",
          dispatcher: agent,
          headers: { "content-type": "application/json", "api-token": token },
          body: JSON.stringify({ events }),
        });
        await response.body.dump();
        if (response.statusCode === 202) published += batch;
      }
    }),
  );
  await agent.close();
  process.send?.({ published });
  process.exit(0);
});
// Told only once listening: a message sent before the listener exists would be lost.
process.send?.({ ready: true });
