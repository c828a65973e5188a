import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  /** The body exactly as it came off the socket. */
  raw: Buffer;
  receivedAt: number;
}

/** A status with response headers (a `Retry-After`, say). */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
}

/** How the receiver answers the nth request (0-based): a status (with headers), or hang until the client gives up. */
export type Behaviour = (
  request: ReceivedRequest,
  index: number,
) => number | Answer | "hang" | Promise<number | Answer>;

/** A real webhook receiver on a loopback port that records every request it gets. */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  #server: Server;
  #waiters: { count: number; resolve: () => void }[] = [];
  url = "";

  constructor(private behaviour: Behaviour = () => 200) {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const received = { headers: req.headers, raw: Buffer.concat(chunks), receivedAt: Date.now() };
        const index = this.requests.push(received) - 1;
        const answer = this.behaviour(received, index);
        if (answer !== "hang") {
          void Promise.resolve(answer).then((given) => {
            const { status, headers } = typeof given === "number" ? { status: given, headers: {} } : given;
            res.writeHead(status, { "content-type": "text/plain", ...headers }).end(`status ${status}`);
          });
        }
        this.#waiters = this.#waiters.filter((waiter) => {
          if (this.requests.length < waiter.count) return true;
          waiter.resolve();
          return false;
        });
      });
    });
  }

  /** Listens on a free port of `host` (another loopback address than 127.0.0.1, if need be). */
  static async start(behaviour?: Behaviour, path = "/webhook", host = "127.0.0.1"): Promise<Receiver> {
    const receiver = new Receiver(behaviour);
    await new Promise<void>((resolve) => receiver.#server.listen(0, host, resolve));
    receiver.url = `http://${host}:${(receiver.#server.address() as AddressInfo).port}${path}`;
    return receiver;
  }

  setBehaviour(behaviour: Behaviour): void {
    this.behaviour = behaviour;
  }

  /** Resolves once `count` requests have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${count} requests, got ${this.requests.length} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  json(index: number): Record<string, unknown> {
    return JSON.parse(this.requests[index]!.raw.toString("utf8")) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** A port that is free to listen on now: the kernel's pick, free until someone else takes it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether a connection to this loopback port is refused (nothing listens there). */
const refuses = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });

/**
 * A loopback URL where nothing listens, so connections are refused. Its port lies below the range
 * the kernel hands out for `listen(0)` (32768-60999 on Linux), so no receiver or Herald started
 * later in the run can be given it: a freed ephemeral port was, once, and the webhooks meant to be
 * refused reached another test's receiver.
 */
export async function refusingUrl(): Promise<string> {
  for (let tries = 0; tries < 100; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await refuses(port)) return `http://127.0.0.1:${port}/webhook`;
  }
  throw new Error("refusingUrl: no refusing port found below 32000");
}

/**
 * A receiver that answers 200 (after `delayMs`, to keep attempts in flight) and records, for each
 * `payload.message_id`, the webhook ids it arrived under: enough to see loss and duplicates.
 */
export async function startArrivalsReceiver(
  delayMs = 0,
): Promise<{ receiver: Receiver; arrivals: Map<number, Set<string>> }> {
  const arrivals = new Map<number, Set<string>>();
  const receiver = await Receiver.start(async (request) => {
    const id = (JSON.parse(request.raw.toString("utf8")) as { payload: { message_id: number } }).payload.message_id;
    arrivals.set(id, (arrivals.get(id) ?? new Set<string>()).add(String(request.headers["x-webhook-id"])));
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    return 200;
  });
  return { receiver, arrivals };
}
