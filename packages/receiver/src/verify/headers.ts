/** Request headers as any runtime hands them over: Web `Headers`, Node's lowercase object, or a plain record. */
export type HeaderSource =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

export type HeaderReader = (name: string) => string | undefined;

/** A case-insensitive getter; a repeated header reads as its first value. */
export function readHeaders(source: HeaderSource): HeaderReader {
  if (typeof (source as { get?: unknown }).get === "function") {
    const headers = source as { get(name: string): string | null };
    return (name) => headers.get(name) ?? undefined;
  }
  const lowered = new Map<string, string>();
  for (const [key, value] of Object.entries(source)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === "string") lowered.set(key.toLowerCase(), first);
  }
  return (name) => lowered.get(name);
}
