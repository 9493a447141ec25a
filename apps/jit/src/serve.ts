// `jit serve <mode>`: one entry point for every service of the image. Each mode is its app's own
// entry module, loaded at run time from beside this one (apps never import apps at build time):
// in the build dist/apps/<app>/main.js next to dist/apps/jit/jit.js, from source
// apps/<app>/src/main.ts. The module starts the service and owns its signals, as `node main.js` would.

export const SERVE_MODES = ['all', 'webhook-ingest', 'approval-gate', 'issuer', 'revoker', 'notifier'] as const;
export type ServeMode = (typeof SERVE_MODES)[number];

/** The entry module of a mode, relative to the module that asks (this file, or the bundle it is in). */
export function serveEntry(mode: ServeMode, from: string = import.meta.url): URL {
  const app = mode === 'all' ? 'jit' : mode;
  return from.endsWith('.ts') ? new URL(`../../${app}/src/main.ts`, from) : new URL(`../${app}/main.js`, from);
}

/** Starts the service: resolves once it listens (the module's top-level await), or the module exits the process. */
export async function serve(mode: ServeMode): Promise<void> {
  await import(serveEntry(mode).href);
}
