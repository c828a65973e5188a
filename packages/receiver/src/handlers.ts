import type { ProfileName } from "./verify/outcome.js";

/** What a handler is given: the verified event as it came out of the inbox. */
export interface ReceivedEvent<Payload = any> {
  /** The deduplication key (webhook id, or a body digest). */
  key: string;
  profile: ProfileName;
  type: string;
  payload: Payload;
  /** 1 on the first run, higher on retries. */
  attempt: number;
  receivedAt: Date;
}

export type Handler = (event: ReceivedEvent) => unknown;

/**
 * Handlers by event type: exact (`group_channel:message_send`), a prefix ending in `*`
 * (`group_channel:*`, `message.*`), or `*` for everything. Every matching handler runs.
 */
export class HandlerTable {
  private readonly entries: { pattern: string; handler: Handler }[] = [];

  add(pattern: string, handlers: Handler | readonly Handler[]): void {
    for (const handler of Array.isArray(handlers) ? handlers : [handlers]) this.entries.push({ pattern, handler });
  }

  matching(type: string): Handler[] {
    return this.entries
      .filter(({ pattern }) => (pattern.endsWith("*") ? type.startsWith(pattern.slice(0, -1)) : pattern === type))
      .map((entry) => entry.handler);
  }
}
