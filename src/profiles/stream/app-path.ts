/** Paths Stream's clients call, whatever base URL (and path prefix) they were given. */
const STREAM_PATHS = ["/app", "/hook/events"];
/** Where Stream's routes are mounted; requests reach them through `streamPath`. */
export const STREAM_PREFIX = "/stream";

/**
 * Stream's routes live at the end of any base URL (`http://herald/app`, `http://herald/prefix/app`,
 * `/api/v2/app`): such a path is routed to them, unless it belongs to Herald's or Sendbird's APIs.
 */
export function streamPath(path: string): string | undefined {
  if (/^\/v[13]\//.test(path)) return undefined;
  const suffix = STREAM_PATHS.find((candidate) => path.endsWith(candidate));
  return suffix === undefined ? undefined : STREAM_PREFIX + suffix;
}
