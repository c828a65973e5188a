// Copies the inbox's WAL into its database on a connection and thread of its own, so the writer's
// commits never wait for a checkpoint's fsync (SQLite's automatic checkpoints run inside a commit,
// and on a busy inbox stalled acknowledgements by a quarter of a second every few seconds).
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

const INTERVAL_MS = 50;
/** Past this many WAL frames (~8 MB) a RESTART checkpoint briefly holds writers so the WAL starts over. */
const RESTART_FRAMES = 2000;

const db = new Database((workerData as { path: string }).path);
db.pragma("busy_timeout = 5000");
const timer = setInterval(() => {
  // PASSIVE never blocks the writer, but under steady writes it never lets the WAL restart either.
  const [passive] = db.pragma("wal_checkpoint(PASSIVE)") as { log: number }[];
  if (passive && passive.log > RESTART_FRAMES) db.pragma("wal_checkpoint(RESTART)");
}, INTERVAL_MS);
parentPort!.on("message", () => {
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
