// Sandbox mode: the seed's policy.yaml registers age keys to its users with a placeholder
// (`alice: [sandbox-generated]` under `recipients:`). On a fresh data dir jit generates one age
// identity per such user, writes it to JIT_DATA_DIR/identities/<user>.txt (mode 0600, the format
// `jit keygen` writes, so `jit request --identity` and `jit credential --identity` read it) and puts
// the public key in the seed's policy.yaml before the sandbox starts and the policy is pinned.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Seed } from '@jit/gitlab-sandbox';
import { generateAgeIdentity } from '@jit/issuer';

/** The placeholder of a seed policy: replaced by a key generated for that user at seed time. */
export const SANDBOX_KEY_PLACEHOLDER = 'sandbox-generated';

const PLACEHOLDER_LINE = new RegExp(`^([ \\t]+)([A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}):[ \\t]*\\[[ \\t]*${SANDBOX_KEY_PLACEHOLDER}[ \\t]*\\][ \\t]*$`, 'gm');

/** Where sandbox mode keeps the users' identities. */
export function sandboxIdentityDir(dataDir: string): string {
  return join(dataDir, 'identities');
}

/**
 * Fills every placeholder in the seed's `policy.yaml` files with a key generated for that user (one
 * per user across projects) and writes the identities. Returns username → identity file.
 */
export async function provisionSandboxIdentities(seed: Seed, dataDir: string): Promise<Record<string, string>> {
  const dir = sandboxIdentityDir(dataDir);
  const recipients = new Map<string, string>();
  const files: Record<string, string> = {};
  for (const project of seed.projects) {
    const text = project.files['policy.yaml'];
    if (text === undefined) continue;
    const users = [...text.matchAll(PLACEHOLDER_LINE)].map((m) => m[2]!);
    for (const user of users) {
      if (recipients.has(user)) continue;
      const { identity, recipient } = await generateAgeIdentity();
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, `${user}.txt`);
      await writeFile(file, `# created by jit (sandbox mode) for ${user}; registered to ${user} in the seed policy.yaml\n# recipient: ${recipient}\n${identity}\n`, { mode: 0o600 });
      recipients.set(user, recipient);
      files[user] = file;
    }
    project.files['policy.yaml'] = text.replace(PLACEHOLDER_LINE, (_l, indent: string, user: string) => `${indent}${user}: [${recipients.get(user)}]`);
  }
  return files;
}

/** The identities an earlier start wrote (username → file); empty when there are none. */
export async function sandboxIdentities(dataDir: string): Promise<Record<string, string>> {
  const dir = sandboxIdentityDir(dataDir);
  const names = await readdir(dir).catch(() => [] as string[]);
  return Object.fromEntries(names.filter((n) => n.endsWith('.txt')).map((n) => [n.slice(0, -4), join(dir, n)]));
}
