// The thread that owns the inbox's SQLite file: commits, fsyncs and checkpoints happen here, so
// they never stall the thread that reads requests and answers them.
import { parentPort, workerData } from "node:worker_threads";
import type { NewInboxEvent } from "./inbox.js";
import { SqliteInboxFile } from "./sqlite-inbox-file.js";

export interface Call {
  id: number;
  op: keyof SqliteInboxFile;
  args: unknown[];
}

const file = new SqliteInboxFile((workerData as { path: string }).path);
const port = parentPort!;
let queue: Call[] = [];

const reply = (id: number, run: () => unknown) => {
  try {
    port.postMessage({ id, result: run() });
  } catch (error) {
    port.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
};

/**
 * Accept batches that queued up while the last fsync ran are committed together: one
 * transaction and one fsync for all of them, then each caller gets its own slice of the result.
 */
function acceptTogether(calls: Call[]): void {
  const batches = calls.map((call) => call.args[0] as NewInboxEvent[]);
  let results: (number | undefined)[];
  try {
    results = file.acceptMany(batches.flat());
  } catch (error) {
    for (const call of calls)
      reply(call.id, () => {
        throw error;
      });
    return;
  }
  let offset = 0;
  for (const [index, call] of calls.entries()) {
    const size = batches[index]!.length;
    port.postMessage({ id: call.id, result: results.slice(offset, offset + size) });
    offset += size;
  }
}

function drain(): void {
  const calls = queue;
  queue = [];
  for (let i = 0; i < calls.length; ) {
    if (calls[i]!.op === "acceptMany") {
      let end = i;
      while (end < calls.length && calls[end]!.op === "acceptMany") end++;
      acceptTogether(calls.slice(i, end));
      i = end;
      continue;
    }
    const { id, op, args } = calls[i++]!;
    reply(id, () => (file[op] as (...args: unknown[]) => unknown)(...args));
    if (op === "close") port.close();
  }
}

port.on("message", (call: Call) => {
  if (queue.push(call) === 1) setImmediate(drain);
});
port.postMessage({ id: 0, result: "open" });
