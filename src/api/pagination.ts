import { HeraldError } from "../core/errors.js";
import { queryInteger } from "./params.js";

/** Where a page starts: the `createdAt`/`id` of the last item of the previous page. */
export interface CursorPosition {
  createdAt: number;
  id: string;
}

export const encodeCursor = (item: CursorPosition): string =>
  Buffer.from(JSON.stringify([item.createdAt, item.id])).toString("base64url");

export function decodeCursor(cursor: string | undefined): CursorPosition | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [unknown, unknown];
    // Only what encodeCursor writes: the stores compare these with BIGINT and text columns.
    if (
      Number.isSafeInteger(createdAt) &&
      (createdAt as number) >= 0 &&
      typeof id === "string" &&
      !id.includes("\u0000")
    ) {
      return { createdAt: createdAt as number, id };
    }
  } catch {}
  throw new HeraldError("invalid_value", '"cursor" is not a cursor this API returned.', { parameter: "cursor" });
}

export const parseLimit = (raw: string | undefined, fallback = 50, max = 500): number =>
  raw === undefined ? fallback : queryInteger(raw, "limit", 1, max);

/** The cursor for the page after `items`, or null when this page was the last. */
export const nextCursor = (items: readonly CursorPosition[], limit: number): string | null => {
  const last = items.at(-1);
  return items.length === limit && last ? encodeCursor(last) : null;
};

/** One page of a list held in memory (an app's endpoints or tokens), newest first like every list. */
export function pageOf<T>(
  items: readonly T[],
  position: (item: T) => CursorPosition,
  query: { limit?: string; cursor?: string },
): { page: T[]; next: string | null } {
  const limit = parseLimit(query.limit);
  const after = decodeCursor(query.cursor);
  const sorted = [...items].sort((a, b) => {
    const pa = position(a);
    const pb = position(b);
    return pb.createdAt - pa.createdAt || (pb.id < pa.id ? -1 : pb.id > pa.id ? 1 : 0);
  });
  const start = after
    ? sorted.filter((item) => {
        const p = position(item);
        return p.createdAt < after.createdAt || (p.createdAt === after.createdAt && p.id < after.id);
      })
    : sorted;
  const page = start.slice(0, limit);
  return { page, next: nextCursor(page.map(position), limit) };
}

/**
 * The JSON a page of the delivery log or the event list holds at most, about: past it the page ends
 * early, with its `next_cursor` as usual. Event payloads (up to ~1 MB each) and captured response
 * bodies would otherwise make a 500-item page hundreds of megabytes, built while the server waits.
 */
export const PAGE_BYTE_BUDGET = 4 * 1024 * 1024;
/** Items read from the store at a time while filling a page, so a page over budget is never read whole. */
const PAGE_BATCH = 50;

/**
 * One page of a store listing, newest first, read in batches and turned into JSON as it goes: it ends
 * at `limit` items or once past `budget` bytes (always holding at least one item), and `next` is the
 * cursor after its last item, null when the listing has nothing more.
 */
export async function budgetedPage<T extends CursorPosition, J>(
  read: (before: CursorPosition | undefined, limit: number) => Promise<T[]>,
  query: { before: CursorPosition | undefined; limit: number },
  toJson: (item: T) => J,
  budget = PAGE_BYTE_BUDGET,
): Promise<{ items: J[]; next: string | null }> {
  const items: J[] = [];
  let bytes = 0;
  let before = query.before;
  while (items.length < query.limit) {
    const wanted = Math.min(PAGE_BATCH, query.limit - items.length);
    const batch = await read(before, wanted);
    for (const item of batch) {
      const json = toJson(item);
      items.push(json);
      before = { createdAt: item.createdAt, id: item.id };
      bytes += JSON.stringify(json).length;
      if (bytes >= budget && items.length < query.limit) return { items, next: encodeCursor(before) };
    }
    if (batch.length < wanted) return { items, next: null };
  }
  return { items, next: before && items.length > 0 ? encodeCursor(before) : null };
}

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
export const isoTime = (ms: number): string => new Date(ms).toISOString();
