import { isUtf8 } from "node:buffer";
import { LosslessNumber, parse as parseLossless, stringify as stringifyLossless } from "lossless-json";
import secureJson from "secure-json-parse";
import { HeraldError } from "./errors.js";

/**
 * JSON in and out of Herald without losing a digit. A published number is delivered exactly as it
 * was written: `9007199254740993`, `0.1000000000000000055511151231257827` and `1e400` are not
 * rounded, truncated or turned into `null` on their way to a receiver.
 *
 * Most bodies have no such number, and take the native path (`JSON.parse`, `JSON.stringify`). A
 * body that does is parsed by `lossless-json`, which keeps those numbers as {@link ExactNumber}s
 * (their source text); {@link stringifyJson} writes them back as that text.
 */

/** How deep arrays and objects may nest in a request body; deeper is a 400, before any parsing. */
export const MAX_JSON_DEPTH = 128;

/** Fastify's own defaults: a `__proto__` key, or `constructor.prototype`, is refused. */
const PROTO_POISONING = { protoAction: "error", constructorAction: "error" } as const;

/** Whether a JavaScript number prints back as exactly this JSON number text. */
const isExactAsNumber = (text: string): boolean => String(Number(text)) === text;

let exactNumberSerialised = false;

/** A number a JavaScript number cannot hold as written, kept as its JSON text. */
export class ExactNumber extends LosslessNumber {
  /** For `JSON.stringify`, which cannot write it: {@link stringifyJson} notices this and writes the text. */
  toJSON(): number {
    exactNumberSerialised = true;
    return Number(this.value);
  }
}

/**
 * What the native parser would get wrong: nesting past {@link MAX_JSON_DEPTH} (refused here), and
 * whether any number outside a string would not print back as written. One pass; strings are
 * skipped with `indexOf`. Invalid JSON is left for the parser to report.
 */
function inspect(text: string): { exactNumbers: boolean } {
  let depth = 0;
  let exactNumbers = false;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // The closing quote is the first one not escaped by an odd run of backslashes.
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end === -1) return { exactNumbers };
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        i = end;
        if (backslashes % 2 === 0) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > MAX_JSON_DEPTH) {
        throw new HeraldError("malformed_json", `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`);
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      let plain = true;
      for (let next = text.charCodeAt(i + 1); ; next = text.charCodeAt(i + 1)) {
        if (next >= 0x30 && next <= 0x39) i++;
        else if (next === 0x2e /* . */ || next === 0x65 /* e */ || next === 0x45 /* E */ || next === 0x2b /* + */) {
          plain = false;
          i++;
        } else if (next === 0x2d /* - */) i++;
        else break;
      }
      // A short integer always prints back as written; anything else is checked ("-0" included).
      const digits = i - start + 1;
      if (!plain || digits > 15 || (c === 0x2d && text.charCodeAt(start + 1) === 0x30)) {
        if (!exactNumbers && !isExactAsNumber(text.slice(start, i + 1))) exactNumbers = true;
      }
    }
  }
  return { exactNumbers };
}

const exactOrNumber = (text: string): number | ExactNumber =>
  isExactAsNumber(text) ? Number(text) : new ExactNumber(text);

const NUMBER_PARTS = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Whether a JSON number's value is a whole number a JavaScript number holds exactly (`1e3`, `1000.0`). */
function isSafeWholeNumber(text: string): boolean {
  const parts = NUMBER_PARTS.exec(text);
  if (!parts || !Number.isSafeInteger(Number(text))) return false;
  const [, whole = "", fraction = "", exponent = "0"] = parts;
  // The digits after the decimal point, once the exponent has moved it, must all be zeros.
  const significant = (whole + fraction).replace(/0+$/, "");
  return significant.length <= whole.length + Number(exponent);
}

/** For settings, not payloads: `1e3` and `1000.0` are the integer 1000 (Python writes floats so). */
const wholeOrExact = (text: string): number | ExactNumber =>
  isSafeWholeNumber(text) ? Number(text) || 0 : exactOrNumber(text);

/**
 * Parses a request body: UTF-8 only, nested at most {@link MAX_JSON_DEPTH} deep, no prototype
 * poisoning, and every number kept as written. Throws `malformed_json` errors that say why.
 * `payload: false` (settings, not content to deliver): a whole number written `1e3` or `1000.0`
 * is read as the integer it is, so that integer fields take it.
 */
export function parseJson(body: Buffer | string, { payload = true }: { payload?: boolean } = {}): unknown {
  if (typeof body !== "string") {
    if (!isUtf8(body)) throw new HeraldError("malformed_json", "The request body is not valid UTF-8.");
    body = body.toString("utf8");
  }
  if (body.length === 0) {
    throw new HeraldError("malformed_json", "The request body is empty; a JSON object was expected.");
  }
  const { exactNumbers } = inspect(body);
  let value: unknown;
  try {
    if (!exactNumbers) value = secureJson.parse(body, undefined, PROTO_POISONING);
    else {
      const lossless = parseLossless(body, undefined, {
        parseNumber: payload ? exactOrNumber : wholeOrExact,
        // As JSON.parse does: the last of a repeated key wins.
        onDuplicateKey: ({ newValue }) => newValue,
      });
      value = secureJson.scan(lossless as object, PROTO_POISONING);
    }
  } catch (error) {
    throw new HeraldError("malformed_json", `The request body is not valid JSON: ${(error as Error).message}`);
  }
  // Settings are stored as text, where such a string would change (a payload keeps its escape).
  const broken = payload ? undefined : loneSurrogateAt(value, "");
  if (broken !== undefined) {
    throw new HeraldError(
      "malformed_json",
      `"${broken}" holds half of a UTF-16 surrogate pair (an unpaired \\ud800-\\udfff escape), which no text encoding keeps.`,
    );
  }
  return value;
}

/** Half of a UTF-16 pair: only a `\ud800`-style escape writes one, and it has no UTF-8 form. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Where in a parsed document a key or string holds a lone surrogate (`url`, `headers.x`), if anywhere. */
function loneSurrogateAt(value: unknown, path: string): string | undefined {
  if (typeof value === "string") return LONE_SURROGATE.test(value) ? path || "(the body)" : undefined;
  if (typeof value !== "object" || value === null) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const at = path === "" ? key : `${path}.${key}`;
    if (LONE_SURROGATE.test(key)) return at;
    const found = loneSurrogateAt(child, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** `JSON.stringify`, except that {@link ExactNumber}s are written as their own text. */
export function stringifyJson(value: unknown): string {
  exactNumberSerialised = false;
  const text = JSON.stringify(value);
  if (!exactNumberSerialised) return text;
  return stringifyLossless(value) as string;
}

/** Parses JSON Herald stored itself (payloads), keeping exact numbers for {@link stringifyJson}. */
export function parseStoredJson(text: string): unknown {
  return inspect(text).exactNumbers ? parseLossless(text, undefined, exactOrNumber) : JSON.parse(text);
}
