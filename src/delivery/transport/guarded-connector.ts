import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { buildConnector } from "undici";
import type { AddressPolicy } from "./address-policy.js";

/**
 * Resolves a host name to its addresses. The default asks the system resolver (`dns.lookup`, as
 * Node does); tests inject one that maps names to chosen addresses, so no traffic leaves loopback.
 */
export type Resolver = (hostname: string) => Promise<readonly string[]>;

/** The code of the error a refused connection fails with. */
export const SSRF_BLOCKED = "ERR_HERALD_SSRF_BLOCKED";

/** A connection the SSRF guard refused: nothing was sent, no socket was opened. */
export class SsrfBlockedError extends Error {
  readonly code = SSRF_BLOCKED;

  constructor(message: string) {
    super(message);
    this.name = "SsrfBlockedError";
  }
}

const HINT = "HERALD_ALLOW_NETWORKS opens exceptions";
const refusedName = (host: string, reasons: string[]) =>
  new SsrfBlockedError(
    `refused by the SSRF guard: ${host} resolves only to refused addresses (${reasons.join("; ")}); ${HINT}`,
  );
const refusedLiteral = (reason: string) => new SsrfBlockedError(`refused by the SSRF guard: ${reason}; ${HINT}`);

function systemLookup(hostname: string, options: LookupAllOptions): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(hostname, options, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );
}

/**
 * An undici connector that checks every address right where the socket connects to it: IP
 * literals before connecting, names inside the lookup that `net.connect` makes, so the address
 * checked is the address connected to and DNS rebinding has no gap to slip through. Addresses the
 * policy refuses are dropped; a host left with none fails with {@link SsrfBlockedError}.
 */
export function guardedConnector(
  policy: AddressPolicy,
  resolver: Resolver | undefined,
  onRefused: () => void,
): buildConnector.connector {
  const lookup: LookupFunction = (hostname, options, callback) => {
    const family = options.family === 4 || options.family === 6 ? options.family : 0;
    const resolved: Promise<LookupAddress[]> = resolver
      ? resolver(hostname).then((list) => list.map((address) => ({ address, family: isIP(address) })))
      : systemLookup(hostname, { all: true, family, ...(options.hints ? { hints: options.hints } : {}) });
    resolved.then(
      (addresses) => {
        const open = policy.allowsName(hostname);
        const usable: LookupAddress[] = [];
        const reasons: string[] = [];
        for (const entry of addresses) {
          if (family !== 0 && entry.family !== family) continue;
          const reason = open ? null : policy.refusal(entry.address);
          if (reason) reasons.push(reason);
          else usable.push(entry);
        }
        if (usable.length === 0) {
          if (reasons.length === 0) {
            const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
              code: "ENOTFOUND",
              hostname,
            });
            return callback(error, "", 0);
          }
          onRefused();
          return callback(refusedName(hostname, reasons), "", 0);
        }
        if (options.all) return callback(null, usable);
        callback(null, usable[0]!.address, usable[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 0),
    );
  };
  const connect = buildConnector({ lookup });
  return (options, callback) => {
    // An IP literal never reaches the lookup: `net.connect` connects to it directly.
    const host = options.hostname;
    if (isIP(host) !== 0 && !policy.allowsName(host)) {
      const reason = policy.refusal(host);
      if (reason) {
        onRefused();
        queueMicrotask(() => callback(refusedLiteral(reason), null));
        return;
      }
    }
    connect(options, callback);
  };
}
