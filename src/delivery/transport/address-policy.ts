import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Ranges ipaddr.js files under broader names, named here so a refusal says what it hit. */
const NAMED_RANGES: Parameters<typeof ipaddr.subnetMatch>[1] = {
  "a cloud metadata address": [
    ipaddr.parseCIDR("169.254.169.254/32"),
    ipaddr.parseCIDR("100.100.100.200/32"),
    ipaddr.parseCIDR("192.0.0.192/32"),
    ipaddr.parseCIDR("fd00:ec2::254/128"),
  ],
  "a benchmarking range (198.18.0.0/15)": [ipaddr.parseCIDR("198.18.0.0/15"), ipaddr.parseCIDR("2001:2::/48")],
  "a documentation range": [
    ipaddr.parseCIDR("192.0.2.0/24"),
    ipaddr.parseCIDR("198.51.100.0/24"),
    ipaddr.parseCIDR("203.0.113.0/24"),
    ipaddr.parseCIDR("2001:db8::/32"),
    ipaddr.parseCIDR("3fff::/20"),
  ],
};

/** How a refusal names ipaddr.js's ranges. */
const RANGE_NAMES: Record<string, string> = {
  unspecified: "unspecified",
  broadcast: "broadcast",
  multicast: "multicast",
  linkLocal: "link-local",
  loopback: "loopback",
  carrierGradeNat: "carrier-grade NAT (100.64.0.0/10)",
  private: "private",
  uniqueLocal: "unique local (private)",
  reserved: "reserved",
  teredo: "Teredo",
  deprecatedSiteLocal: "site-local",
};

/** IPv6 forms that carry an IPv4 address: they reach what the IPv4 address reaches. */
const EMBEDDING = [
  // ::ffff:a.b.c.d, ::ffff:0:a.b.c.d, 64:ff9b::a.b.c.d: the last four bytes.
  { form: "IPv4-mapped", range: ipaddr.parseCIDR("::ffff:0:0/96"), from: 12 },
  { form: "IPv4-translated", range: ipaddr.parseCIDR("::ffff:0:0:0/96"), from: 12 },
  { form: "NAT64", range: ipaddr.parseCIDR("64:ff9b::/96"), from: 12 },
  // 2002:aabb:ccdd::/48: bytes 2 to 5.
  { form: "6to4", range: ipaddr.parseCIDR("2002::/16"), from: 2 },
] as const;
/** ::a.b.c.d, deprecated (RFC 4291) and never routed: refused whatever it embeds. */
const IPV4_COMPATIBLE = ipaddr.parseCIDR("::/96");

/** An IP literal as it appears in a URL or a lookup answer, without brackets or zone. */
function parseAddress(text: string): Address | undefined {
  const bracketed = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const bare = bracketed.split("%")[0] ?? "";
  // Only strict forms: `net.isIP` refuses what ipaddr.js would read leniently (`127.1`, `0x7f.1`).
  const version = isIP(bare);
  if (version === 0) return undefined;
  // ipaddr.js reads any dotted IPv6 tail as IPv4-mapped (`::127.0.0.1` as `::ffff:127.0.0.1`); the
  // URL parser writes every IPv6 address in hex first, as the socket will read it.
  return ipaddr.parse(version === 6 ? new URL(`http://[${bare}]/`).hostname.slice(1, -1) : bare);
}

/** What Herald refuses to connect to, and which networks and names `HERALD_ALLOW_NETWORKS` opens. */
export class AddressPolicy {
  readonly #networks: [Address, number][] = [];
  readonly #names = new Set<string>();

  /**
   * `entries`: CIDRs (`10.0.0.0/8`, `fd00::/8`), single addresses (`::1`) and host names
   * (`hooks.internal`), as `HERALD_ALLOW_NETWORKS` lists them. Throws on anything else.
   */
  constructor(entries: readonly string[] = []) {
    for (const raw of entries) {
      const entry = raw.trim();
      if (entry === "") continue;
      if (entry.includes("/")) {
        const [text = "", bits = "", ...rest] = entry.split("/");
        const address = parseAddress(text);
        const max = address?.kind() === "ipv4" ? 32 : 128;
        if (!address || rest.length > 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > max) {
          throw new Error(`HERALD_ALLOW_NETWORKS: "${entry}" is not a valid CIDR`);
        }
        this.#networks.push([address, Number(bits)]);
      } else if (isIP(entry) !== 0) {
        const address = parseAddress(entry)!;
        this.#networks.push([address, address.kind() === "ipv4" ? 32 : 128]);
      } else if (/^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i.test(entry)) {
        this.#names.add(normalName(entry));
      } else {
        throw new Error(`HERALD_ALLOW_NETWORKS: "${entry}" is not a CIDR, an IP address or a host name`);
      }
    }
  }

  /**
   * The allow-list's networks that open more than private ground: a whole address family
   * (`0.0.0.0/0`, `::/0`) or any public address, which turns the SSRF guard off for them.
   */
  broadExceptions(): string[] {
    return this.#networks
      .filter(([address, bits]) => bits === 0 || reachesPublic(address, bits))
      .map(([address, bits]) => `${address.toString()}/${bits}`);
  }

  /** A host name the allow-list names: its URLs are sent whatever it resolves to. */
  allowsName(hostname: string): boolean {
    return this.#names.size > 0 && this.#names.has(normalName(hostname));
  }

  /** Why Herald must not connect to this IP address, or null when it may. */
  refusal(text: string): string | null {
    const address = parseAddress(text);
    if (!address) return `"${text}" is not an IP address`;
    return this.#refusal(address, text);
  }

  /**
   * Why a URL's host must be refused before anything is sent, when that can be told without DNS:
   * an IP literal, or `localhost`. Other names are judged at connect time, on what they resolve to.
   */
  literalRefusal(url: URL): string | null {
    const host = url.hostname;
    if (this.allowsName(host)) return null;
    const address = parseAddress(host);
    if (address) return this.#refusal(address, host);
    const name = normalName(host);
    if (name === "localhost" || name.endsWith(".localhost")) {
      // It resolves to loopback (RFC 6761); allowed only where the allow-list opens loopback.
      return this.refusal("127.0.0.1") && this.refusal("::1") ? `${host} is loopback` : null;
    }
    return null;
  }

  #allowed(address: Address): boolean {
    return this.#networks.some((network) => network[0].kind() === address.kind() && address.match(network));
  }

  #refusal(address: Address, shown: string): string | null {
    if (this.#allowed(address)) return null;
    if (address.kind() === "ipv6") {
      const v6 = address as ipaddr.IPv6;
      for (const { form, range, from } of EMBEDDING) {
        if (!v6.match(range)) continue;
        const inner = ipaddr.fromByteArray(v6.toByteArray().slice(from, from + 4));
        // ::ffff:a.b.c.d is a.b.c.d itself, so an allowed IPv4 network opens it too.
        if (form === "IPv4-mapped" && this.#allowed(inner)) return null;
        const why = classify(inner);
        return why && `${shown} is the ${form} form of ${inner.toString()}, which is ${why}`;
      }
      // :: and ::1 sit in ::/96 too; they are named by their own ranges below.
      if (v6.match(IPV4_COMPATIBLE) && v6.range() === "unicast") {
        return `${shown} is an IPv4-compatible IPv6 address (deprecated)`;
      }
    }
    const why = classify(address);
    return why && `${shown} is ${why}`;
  }
}

/** What kind of address this is, when it is one Herald refuses; null for public unicast. */
function classify(address: Address): string | null {
  const named = ipaddr.subnetMatch(address, NAMED_RANGES, "");
  if (named !== "") return named;
  const range = address.range();
  if (range === "unicast") return null;
  return RANGE_NAMES[range] ?? `special-purpose (${range})`;
}

/**
 * Whether a network holds a public address: its first or last address is one, or the two lie in
 * different refused ranges (so it spans what is between them, `10.0.0.0/7` or `0.0.0.0/1`).
 */
function reachesPublic(address: Address, bits: number): boolean {
  const cidr = `${address.toString()}/${bits}`;
  const family = address.kind() === "ipv4" ? ipaddr.IPv4 : ipaddr.IPv6;
  const first = classify(family.networkAddressFromCIDR(cidr));
  const last = classify(family.broadcastAddressFromCIDR(cidr));
  return first === null || last === null || first !== last;
}

const normalName = (host: string): string => host.toLowerCase().replace(/\.$/, "");
