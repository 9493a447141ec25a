// The sandbox seed: YAML validated with zod. Shape errors and dangling references (a group
// member who is not a user, a subgroup without its parent) fail fast with the path named.
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { SandboxSeedInvalid, SandboxSeedUnknownRef } from './errors';

const MAX_SEED_BYTES = 4 * 1024 * 1024;

/** The demo seed shipped with the sandbox: deploy/elevations-repo with the users its policy names. */
export const DEMO_SEED_PATH = fileURLToPath(new URL('../seeds/demo.yaml', import.meta.url));

const username = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/, 'must be a GitLab username');
const pathSegment = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
const fullPath = z.string().refine((p) => p.split('/').every((s) => pathSegment.test(s)), 'must be a slash-separated path of [A-Za-z0-9_.-] segments');

/** GitLab access levels: guest 10, reporter 20, developer 30, maintainer 40, owner 50. */
const accessLevel = z.union([z.literal(10), z.literal(20), z.literal(30), z.literal(40), z.literal(50)]);

const member = z.union([username, z.strictObject({ username, access_level: accessLevel.default(30) })]);

const userSchema = z.strictObject({
  username,
  name: z.string().min(1).max(255).optional(),
  email: z.string().email().optional(),
  token: z.string().min(8).max(255).optional(),
  tokens: z.array(z.string().min(8).max(255)).optional(),
  bot: z.boolean().default(false),
  admin: z.boolean().default(false),
  state: z.enum(['active', 'blocked', 'deactivated']).default('active'),
});

const groupSchema = z.strictObject({
  path: fullPath,
  name: z.string().min(1).max(255).optional(),
  members: z.array(member).default([]),
});

const protectedBranch = z.union([
  z.string().min(1),
  z.strictObject({
    name: z.string().min(1),
    push_access_level: accessLevel.default(40),
    merge_access_level: accessLevel.default(40),
  }),
]);

const approvalSettings = z.strictObject({
  approvals_before_merge: z.number().int().min(0).max(100).optional(),
  reset_approvals_on_push: z.boolean().optional(),
  disable_overriding_approvers_per_merge_request: z.boolean().optional(),
  merge_requests_author_approval: z.boolean().optional(),
  merge_requests_disable_committers_approval: z.boolean().optional(),
  require_password_to_approve: z.boolean().optional(),
});

const approvalRule = z.strictObject({
  name: z.string().min(1).max(255),
  approvals_required: z.number().int().min(0).max(100),
  users: z.array(username).default([]),
  groups: z.array(fullPath).default([]),
});

const hookSchema = z.strictObject({
  url: z.string().url(),
  token: z.string().max(255).optional(),
  signing_token: z.string().refine(isSigningToken, 'must be whsec_<base64 of a 32-byte key>').optional(),
  merge_requests_events: z.boolean().default(true),
  note_events: z.boolean().default(true),
  issues_events: z.boolean().default(false),
  push_events: z.boolean().default(false),
});

const projectSchema = z.strictObject({
  path: fullPath.refine((p) => p.includes('/'), 'must be <namespace>/<project>'),
  name: z.string().min(1).max(255).optional(),
  description: z.string().max(2000).default(''),
  default_branch: z.string().min(1).default('main'),
  tier: z.enum(['free', 'premium']).default('premium'),
  visibility: z.enum(['private', 'internal', 'public']).default('private'),
  files: z.record(z.string().min(1), z.string()).default({}),
  /** A directory (relative to the seed file) whose files are added to `files`; loadSeedFile only. */
  files_from: z.string().min(1).optional(),
  members: z.array(member).default([]),
  protected_branches: z.array(protectedBranch).optional(),
  approvals: approvalSettings.optional(),
  approval_rules: z.array(approvalRule).default([]),
  hooks: z.array(hookSchema).default([]),
  labels: z.array(z.strictObject({ name: z.string().min(1), color: z.string().default('#6699cc') })).default([]),
  /** Marks jit's elevations project when the seed has several (sandbox mode of `npm start`); not GitLab data. */
  elevations: z.boolean().default(false),
});

export const seedSchema = z.strictObject({
  users: z.array(userSchema).default([]),
  groups: z.array(groupSchema).default([]),
  projects: z.array(projectSchema).default([]),
});

export type Seed = z.output<typeof seedSchema>;
export type SeedInput = z.input<typeof seedSchema>;
export type SeedUser = Seed['users'][number];
export type SeedGroup = Seed['groups'][number];
export type SeedProject = Seed['projects'][number];
export type SeedHook = SeedProject['hooks'][number];
export type SeedMember = SeedGroup['members'][number];

/** GitLab's signing-token format: `whsec_` + base64 of exactly 32 bytes. */
export function isSigningToken(v: string): boolean {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(v);
  return !!m && Buffer.from(m[1] as string, 'base64').length === 32;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

export function memberName(m: SeedMember): string {
  return typeof m === 'string' ? m : m.username;
}

/** Validate a seed object (already parsed from YAML/JSON) and its cross-references. */
export function validateSeed(input: unknown): Seed {
  const result = seedSchema.safeParse(input ?? {});
  if (!result.success) throw SandboxSeedInvalid(describeIssues(result.error));
  const seed = result.data;
  const users = new Set<string>();
  const tokens = new Set<string>();
  for (const u of seed.users) {
    if (users.has(u.username)) throw SandboxSeedInvalid(`users: duplicate username "${u.username}"`);
    users.add(u.username);
    for (const t of [u.token, ...(u.tokens ?? [])]) {
      if (t === undefined) continue;
      // Name the user, never the token value.
      if (tokens.has(t)) throw SandboxSeedInvalid(`users: user "${u.username}" reuses another user's token`);
      tokens.add(t);
    }
  }
  const groups = new Set<string>();
  for (const [i, g] of seed.groups.entries()) {
    if (groups.has(g.path)) throw SandboxSeedInvalid(`groups.${i}: duplicate group path "${g.path}"`);
    const parent = g.path.includes('/') ? g.path.slice(0, g.path.lastIndexOf('/')) : undefined;
    if (parent !== undefined && !groups.has(parent)) throw SandboxSeedUnknownRef(`groups.${i} "${g.path}" needs its parent group "${parent}" declared before it`);
    groups.add(g.path);
    for (const m of g.members) if (!users.has(memberName(m))) throw SandboxSeedUnknownRef(`groups.${i} "${g.path}" member "${memberName(m)}" is not a user`);
  }
  const projects = new Set<string>();
  const marked = seed.projects.filter((p) => p.elevations).map((p) => p.path);
  if (marked.length > 1) throw SandboxSeedInvalid(`projects: more than one project is marked elevations: true (${marked.join(', ')}); mark one`);
  for (const [i, p] of seed.projects.entries()) {
    if (projects.has(p.path)) throw SandboxSeedInvalid(`projects.${i}: duplicate project path "${p.path}"`);
    projects.add(p.path);
    for (const m of p.members) if (!users.has(memberName(m))) throw SandboxSeedUnknownRef(`projects.${i} "${p.path}" member "${memberName(m)}" is not a user`);
    for (const r of p.approval_rules) {
      for (const u of r.users) if (!users.has(u)) throw SandboxSeedUnknownRef(`projects.${i} approval rule "${r.name}" user "${u}" is not a user`);
      for (const g of r.groups) if (!groups.has(g)) throw SandboxSeedUnknownRef(`projects.${i} approval rule "${r.name}" group "${g}" is not a group`);
    }
    for (const f of Object.keys(p.files))
      if (f.startsWith('/') || f.split('/').some((s) => s === '' || s === '.' || s === '..')) throw SandboxSeedInvalid(`projects.${i}.files: "${f}" is not a clean relative path`);
  }
  return seed;
}

/** Parse and validate seed YAML text. */
export function parseSeed(text: string): Seed {
  if (Buffer.byteLength(text, 'utf8') > MAX_SEED_BYTES) throw SandboxSeedInvalid(`it is larger than ${MAX_SEED_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw SandboxSeedInvalid(`it is not valid YAML${where} (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
  if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) throw SandboxSeedInvalid('the document must be a mapping with users, groups and projects');
  return validateSeed(doc);
}

/** Every regular file under `dir` (dotfiles and symlinks skipped), as path -> UTF-8 text. */
async function readTree(dir: string, budget: { bytes: number }): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.isSymbolicLink()) continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        budget.bytes -= (await stat(full)).size;
        if (budget.bytes < 0) throw SandboxSeedInvalid(`files_from ${dir} holds more than ${MAX_SEED_BYTES} bytes`);
        out[relative(dir, full).split(sep).join('/')] = await readFile(full, 'utf8');
      }
    }
  };
  await walk(dir);
  return out;
}

/** Read, parse and validate a seed file; `files_from` directories are read relative to it. */
export async function loadSeedFile(path: string): Promise<Seed> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw SandboxSeedInvalid(`cannot read seed file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  const seed = parseSeed(text);
  const budget = { bytes: MAX_SEED_BYTES };
  for (const [i, p] of seed.projects.entries()) {
    if (!p.files_from) continue;
    const dir = resolve(dirname(path), p.files_from);
    let tree: Record<string, string>;
    try {
      tree = await readTree(dir, budget);
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('JIT_ERR_')) throw err;
      throw SandboxSeedInvalid(`projects.${i}.files_from: cannot read ${p.files_from} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
    }
    p.files = { ...tree, ...p.files };
  }
  return seed;
}
