// The benchmark's webhook receiver, in its own process: answers 200 at once, counts deliveries and
// measures publish-to-receipt latency from the `sent_at` the publisher stamped into each payload.
// With `--hang` it reads each request and never answers: an endpoint that times out on every attempt.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

const wallClock = () => performance.timeOrigin + performance.now();
let count = 0;
let lastAt = 0;
let latencies: number[] = [];

interface Sent {
  payload?: { sent_at?: number };
}

const hangs = process.argv.includes("--hang");

const server = createServer((req, res) => {
  if (hangs) {
    count++;
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    res.writeHead(200).end();
    const now = wallClock();
    count++;
    lastAt = now;
    // Sendbird bodies are the event itself; Standard Webhooks bodies carry it in `data`.
    const raw = Buffer.concat(chunks);
    // A before-message-send call has no body worth reading here; Stream's gzip bodies are unpacked.
    if (raw.length === 0) return;
    const text = (req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8");
    const body = JSON.parse(text) as Sent & { data?: Sent };
    const sentAt = (body.data ?? body).payload?.sent_at;
    if (typeof sentAt === "number") latencies.push(now - sentAt);
  });
});
server.keepAliveTimeout = 60_000;

process.on("message", (message: { cmd: string }) => {
  if (message.cmd === "reset") {
    count = 0;
    lastAt = 0;
    latencies = [];
    process.send?.({ cmd: "reset" });
  } else if (message.cmd === "count") {
    process.send?.({ cmd: "count", count, lastAt });
  } else if (message.cmd === "stats") {
    process.send?.({ cmd: "stats", count, lastAt, latencies });
  } else if (message.cmd === "exit") {
    server.close();
    process.exit(0);
  }
});

server.listen(0, "127.0.0.1", () => process.send?.({ cmd: "ready", port: (server.address() as AddressInfo).port }));
