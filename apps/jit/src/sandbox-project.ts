// Which sandbox project is jit's elevations project in sandbox mode. A user who brings their own
// seed (JIT_SANDBOX_SEED) names their project as they like: JIT_ELEVATIONS_PROJECT alone chooses
// it; otherwise the seed's only project, or the one it marks `elevations: true`; after a restart,
// the project that carries jit's webhook (jit keeps exactly one, on its elevations project).
import type { Sandbox, Seed } from '@jit/gitlab-sandbox';
import { ConfigError } from './config';

export interface ChooseSandboxProject {
  /** JIT_ELEVATIONS_PROJECT, when set. */
  configured?: string;
  /** The seed this start loaded (a fresh data dir); undefined when the sandbox was restored. */
  seed?: Seed;
  /** Whether a hook is the one jit registers on its elevations project. */
  isJitHook: (hook: { url: string }) => boolean;
}

export function chooseSandboxProject(sandbox: Sandbox, opts: ChooseSandboxProject): string {
  const paths = sandbox.state.projects.map((p) => p.pathWithNamespace);
  const listed = paths.length > 0 ? paths.join(', ') : 'none';
  const fail = (what: string) => {
    throw new ConfigError([`JIT_ELEVATIONS_PROJECT: ${what} (the sandbox's projects: ${listed})`]);
  };
  if (opts.configured) {
    const want = opts.configured.toLowerCase();
    const found = sandbox.state.projects.find((p) => p.pathWithNamespace.toLowerCase() === want || String(p.id) === want);
    if (!found) fail(`the sandbox has no project ${opts.configured}; name one of its projects, or unset it to use the seed's`);
    return found!.pathWithNamespace;
  }
  const marked = opts.seed?.projects.find((p) => p.elevations);
  if (marked) return marked.path;
  const withJitHook = sandbox.state.projects.filter((p) => p.hooks.some(opts.isJitHook));
  if (!opts.seed && withJitHook.length === 1) return withJitHook[0]!.pathWithNamespace;
  if (paths.length === 1) return paths[0]!;
  if (paths.length === 0) fail('the sandbox has no project; give the seed (JIT_SANDBOX_SEED) one with policy.yaml');
  return fail('the sandbox has several projects and none is marked; set JIT_ELEVATIONS_PROJECT, or mark one `elevations: true` in the seed');
}
