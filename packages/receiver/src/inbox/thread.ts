import { Worker } from "node:worker_threads";

const FROM_SOURCES = import.meta.url.endsWith(".ts");

/**
 * Starts a worker thread on a module next to this one (`name` without extension). Running from
 * TypeScript sources, the thread first registers the same loader (tsx) this thread runs under.
 */
export function startThread(name: string, workerData: unknown): Worker {
  const url = new URL(`./${name}.${FROM_SOURCES ? "ts" : "js"}`, import.meta.url);
  if (!FROM_SOURCES) return new Worker(url, { workerData });
  const [tsx, module] = [import.meta.resolve("tsx/esm/api"), url.href].map((href) => JSON.stringify(href));
  const bootstrap = `import { register } from ${tsx}; register(); await import(${module});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), { workerData });
}
