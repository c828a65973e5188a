import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";

/** An API's error, in its own words, announced to screen readers. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

/** A quiet confirmation (saved, sent), read out politely. */
export function StatusNote({ text }: { text: string }) {
  return (
    <p class="status" role="status" aria-live="polite">
      {text}
    </p>
  );
}

/** Runs a loader when its keys change; gives its value, error and a reload. */
export function useLoad<T>(load: () => Promise<T>, keys: unknown[]) {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    setError(undefined);
    load().then(
      (result) => current && setValue(result),
      (failure) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [...keys, tick]);
  return { value, error, reload: () => setTick((n) => n + 1), setValue };
}

/** A secret shown once: the value, a copy button, and a warning that it will not be shown again. */
export function SecretOnce({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(value);
    setCopied(true);
  };
  return (
    <section class="secret" aria-label={label}>
      <p>
        <strong>{label}</strong>: shown only now. Copy it and keep it safe.
      </p>
      <code data-testid="secret-value">{value}</code>
      <button type="button" onClick={copy}>
        {copied ? "Copied" : "Copy"}
      </button>
      {copied && <StatusNote text="Copied to the clipboard." />}
    </section>
  );
}

export function Card({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  const headingId = `${id ?? title.replace(/\W+/g, "-").toLowerCase()}-title`;
  return (
    <section class="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}

export const formatTime = (iso: string) => new Date(iso).toLocaleString();
export const formatAge = (ms: number | null) =>
  ms === null ? "—" : ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
export const percent = (rate: number | null) => (rate === null ? "—" : `${(rate * 100).toFixed(1)}%`);
export const ms = (value: number | null) => (value === null ? "—" : `${Math.round(value)} ms`);

/** A badge for a delivery's or endpoint's state; the word is always there, colour only helps. */
export function Badge({ tone, children }: { tone: "ok" | "bad" | "wait" | "off"; children: ComponentChildren }) {
  return <span class={`badge ${tone}`}>{children}</span>;
}
