/** The longest webhook URL Herald takes, in bytes. */
export const MAX_WEBHOOK_URL_BYTES = 2048;

/** Whitespace anywhere (the URL parser would quietly drop or keep it), C0 and C1 controls, DEL. */
const WHITESPACE_OR_CONTROL = /[\s\p{Cc}]/u;
/** An `@` in the authority: user-info, even an empty one (`http://@host/`). */
const USER_INFO = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i;

/** A webhook URL that keeps Herald's rules, or what it breaks (a phrase to follow its name). */
export type WebhookUrlCheck = { ok: true; url: URL } | { ok: false; problem: string };

const shown = (value: string) => JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value);

/**
 * The rules every webhook URL keeps, wherever it comes from: absolute http(s), at most 2 KiB, no
 * whitespace or control characters, no user-info. Whether its host may be reached is the
 * {@link AddressPolicy}'s question.
 */
export function checkWebhookUrl(value: string): WebhookUrlCheck {
  if (Buffer.byteLength(value, "utf8") > MAX_WEBHOOK_URL_BYTES) {
    return { ok: false, problem: `is longer than ${MAX_WEBHOOK_URL_BYTES} bytes` };
  }
  if (WHITESPACE_OR_CONTROL.test(value)) {
    return { ok: false, problem: `has whitespace or control characters: ${shown(value)}` };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, problem: `is not a valid URL: ${shown(value)}` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, problem: `must be an http or https URL, not ${shown(value)}` };
  }
  if (url.username !== "" || url.password !== "" || USER_INFO.test(value)) {
    return {
      ok: false,
      problem: "must not contain a user name or password (user-info): Herald never sends credentials taken from a URL",
    };
  }
  return { ok: true, url };
}
