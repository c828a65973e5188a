// One server for the acknowledgement benchmark, in its own process: `bare` reads the body and
// answers 200; `kit` is createReceiver (SQLite inbox, fsync per batch) behind the node:http adapter,
// with a no-op handler draining the inbox as events arrive; `kit-ack` only acknowledges and stores
// (processing not started), which isolates verify + dedup + durable enqueue.
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { createReceiver, nodeListener } from "../src/index.js";

const [kind, inboxPath, secret] = process.argv.slice(2);

const bare: RequestListener = (req, res) => {
  req.on("data", () => {});
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'));
};

let handled = 0;
const receiver =
  kind === "bare"
    ? undefined
    : createReceiver({
        secrets: secret!,
        inbox: { sqlite: inboxPath! },
        handlers: { "*": () => void handled++ },
        autoStart: kind === "kit",
      });
await receiver?.ready();
const listener = receiver ? nodeListener(receiver) : bare;

const server = createServer(listener);
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.send!({ port: (server.address() as AddressInfo).port });
});
process.on("SIGTERM", () => process.exit(0));
process.on("message", () => process.send!({ handled }));
