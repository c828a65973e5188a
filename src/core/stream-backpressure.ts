import type { ServerResponse } from "node:http";

/** Bytes written to each stream since the event loop last turned: a burst the client has had no chance to take yet. */
const writtenThisTurn = new WeakMap<ServerResponse, number>();

/**
 * Writes to a long-lived stream (server-sent events) unless its client has stopped reading: when the
 * bytes it left unsent from earlier turns of the event loop, plus this chunk, would pass
 * `maxUnsentBytes`, the connection is cut instead, so a paused client cannot make the server hold
 * every event for it. A burst written in one turn (a poll's worth of deliveries) is not held against
 * a client that reads: only what stays unsent once the socket has had a turn to flush counts, and a
 * lone chunk bigger than the cap goes out when nothing older waits. The cut destroys the socket: an
 * orderly end would queue behind the unsent bytes. Returns false when the chunk was not written (cut
 * now, or the stream had already ended).
 */
export function writeOrCut(stream: ServerResponse, chunk: string, maxUnsentBytes: number): boolean {
  if (stream.destroyed || stream.writableEnded) return false;
  const fresh = writtenThisTurn.get(stream);
  const backlog = stream.writableLength - (fresh ?? 0);
  const bytes = Buffer.byteLength(chunk);
  if (backlog > 0 && backlog + bytes > maxUnsentBytes) {
    stream.destroy();
    return false;
  }
  if (fresh === undefined) setImmediate(() => writtenThisTurn.delete(stream));
  writtenThisTurn.set(stream, (fresh ?? 0) + bytes);
  stream.write(chunk);
  return true;
}
