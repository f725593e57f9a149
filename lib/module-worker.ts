import { Worker } from "node:worker_threads";

/**
 * Starts a worker thread running the module at `url`, whether Warren runs compiled (dist/*.js, a
 * plain worker) or from its TypeScript sources through tsx (the worker registers tsx first: a
 * worker does not inherit the loader the main thread registered through tsx's API).
 */
export function startModuleWorker(url: URL, workerData: unknown): Worker {
  if (!url.pathname.endsWith(".ts")) return new Worker(url, { workerData });
  // Resolved here: an eval'd worker would resolve packages from the working directory instead.
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}
