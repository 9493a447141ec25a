// Compacted deny shards kept in customer-managed policies that jit creates, attaches to the role
// and deletes (`/jit/<role>/jit-denies-<role>-<hash>`): IAM allows 10,240 characters of inline
// policy per role but 6,144 per managed policy and 10 managed policies per role by default, so the
// role's free attachment slots multiply the room for revoke denies. Like an inline shard, a managed
// one is named after its content and never changed: a new one is created and attached, read back,
// and only then what it covers is detached and deleted. One free slot is kept for that swap.
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  DeletePolicyCommand,
  DetachRolePolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  ListAttachedRolePoliciesCommand,
  ListPoliciesCommand,
  type CreatePolicyCommandOutput,
  type GetPolicyCommandOutput,
  type GetPolicyVersionCommandOutput,
  type ListAttachedRolePoliciesCommandOutput,
  type ListPoliciesCommandOutput,
} from '@aws-sdk/client-iam';
import { LRUCache } from 'lru-cache';
import type { JitError } from '@jit/errors';
import type { Logger } from '@jit/observability';
import { SubstrateDenied, SubstrateUpstreamFailed } from '@jit/substrates';
import { errName, isNoSuchEntity } from './aws-error';
import type { AwsSender } from './config';
import { decodePolicyDocument } from './deny-policy';
import { entriesOfShard, isShardNamed, shardPolicyName, type ShardDocument } from './revoked-shard';

/** IAM's size limit of one managed policy (characters, whitespace not counted). */
export const MANAGED_POLICY_MAX_CHARS = 6_144;
/** A managed shard left unattached this long (a crash between create and attach) is an orphan. */
export const MANAGED_ORPHAN_AGE_MS = 10 * 60_000;

export interface ManagedShard {
  arn: string;
  name: string;
  doc: unknown;
}
/** The managed policies on a role: how many are attached in all (the role's own too), and jit's shards by ARN. */
export interface ManagedPolicies {
  attached: number;
  shards: Map<string, ManagedShard>;
}

export const managedPath = (roleName: string): string => `/jit/${roleName}/`;
/** `jit-denies-<role>-<16 hex of the content hash>`: unique per account, as IAM requires of managed policy names. */
export const managedShardName = (roleName: string, doc: ShardDocument): string => `jit-denies-${roleName}-${shardPolicyName(doc).slice(-16)}`;
/**
 * A policy jit attaches or keeps attached must be one it wrote: named after its content, and
 * nothing but jit's deny statements. The name is computable by anyone (grant ids and expiries are
 * public), so a principal allowed only iam:CreatePolicy could make it first with an Allow in it, and
 * anyone allowed iam:CreatePolicyVersion could change one; jit would then be the one attaching it.
 */
export const isOwnShard = (name: string, doc: unknown): boolean => doc !== undefined && entriesOfShard(doc) !== undefined && isShardNamed(name, doc);
const isJitShard = (roleName: string, name: string | undefined, arn: string | undefined): boolean =>
  typeof name === 'string' && typeof arn === 'string' && arn.includes(`:policy${managedPath(roleName)}`) && /^jit-denies-.+-[0-9a-f]{16}$/.test(name);

type Call = <T>(operation: string, client: AwsSender, command: object, role?: string) => Promise<T>;

export interface ManagedShardStore {
  read(roleName: string): Promise<ManagedPolicies>;
  /** Create (or find) and attach the shard; answers the document as IAM holds it now (undefined: not readable yet). */
  write(roleName: string, doc: ShardDocument): Promise<ManagedShard & { heldDoc: unknown }>;
  remove(roleName: string, arn: string): Promise<void>;
  /** Delete this role's jit shards left unattached for MANAGED_ORPHAN_AGE_MS (a crash between create and attach, or detach and delete). */
  sweepOrphans(roleName: string, t: number): Promise<number>;
}

export function managedShardStore(substrateName: string, iam: AwsSender, call: Call, log: Logger): ManagedShardStore {
  // jit never changes a shard and names it after its content: one read per shard and process
  const known = new LRUCache<string, { doc: object }>({ max: 500 });
  async function readDoc(arn: string, roleName: string): Promise<unknown> {
    try {
      const p = await call<GetPolicyCommandOutput>('get policy', iam, new GetPolicyCommand({ PolicyArn: arn }), roleName);
      const v = p.Policy?.DefaultVersionId;
      if (!v) return undefined;
      const out = await call<GetPolicyVersionCommandOutput>('get policy version', iam, new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: v }), roleName);
      return decodePolicyDocument(out.PolicyVersion?.Document);
    } catch (err) {
      if (isNoSuchEntity((err as { cause?: unknown }).cause)) return undefined;
      throw err;
    }
  }

  const ignore = (names: string[]) => (err: unknown) => {
    const cause = (err as { cause?: unknown }).cause;
    if (isNoSuchEntity(cause) || names.includes(errName(cause) ?? '')) return;
    throw err;
  };

  async function removeShard(roleName: string, arn: string): Promise<void> {
    await call('detach role policy', iam, new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: arn }), roleName).catch(ignore([]));
    await call('delete policy', iam, new DeletePolicyCommand({ PolicyArn: arn }), roleName).catch(ignore(['DeleteConflict', 'DeleteConflictException']));
  }

  return {
    async read(roleName) {
      const out: ManagedPolicies = { attached: 0, shards: new Map() };
      let marker: string | undefined;
      do {
        const page = await call<ListAttachedRolePoliciesCommandOutput>('list attached role policies', iam, new ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker: marker }), roleName);
        for (const p of page.AttachedPolicies ?? []) {
          out.attached++;
          if (!isJitShard(roleName, p.PolicyName, p.PolicyArn)) continue;
          const doc = known.get(p.PolicyArn as string)?.doc ?? (await readDoc(p.PolicyArn as string, roleName));
          if (doc === undefined) continue;
          if (!isOwnShard(p.PolicyName as string, doc)) {
            // Not what jit wrote (a new default version, or a squatted name attached before this
            // check existed): it may allow anything on the role. It is taken off, loudly.
            log.error(
              { role: roleName, policy: p.PolicyArn },
              "a policy under jit's path on this role is not a deny shard jit wrote (changed or squatted): detaching and deleting it; find out who has iam:CreatePolicy/iam:CreatePolicyVersion on it",
            );
            await removeShard(roleName, p.PolicyArn as string);
            out.attached--;
            continue;
          }
          known.set(p.PolicyArn as string, { doc: doc as object });
          out.shards.set(p.PolicyArn as string, { arn: p.PolicyArn as string, name: p.PolicyName as string, doc });
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
      return out;
    },

    async write(roleName, doc) {
      const name = managedShardName(roleName, doc);
      let arn: string | undefined;
      let created = false;
      try {
        const out = await call<CreatePolicyCommandOutput>(
          'create policy',
          iam,
          new CreatePolicyCommand({ PolicyName: name, Path: managedPath(roleName), PolicyDocument: JSON.stringify(doc), Description: `jit revoke denies for role ${roleName}` }),
          roleName,
        );
        arn = out.Policy?.Arn;
        created = arn !== undefined;
      } catch (err) {
        // Same name, same content: another replica (or this one before a crash) created it.
        if (errName((err as { cause?: unknown }).cause) !== 'EntityAlreadyExists' && errName((err as { cause?: unknown }).cause) !== 'EntityAlreadyExistsException') throw err;
      }
      arn ??= await findArn(roleName, name);
      if (!created) {
        // Someone made this name first: attached only if it holds exactly what jit would have written.
        const existing = await readDoc(arn, roleName);
        if (existing === undefined) throw upstream(`create policy: ${name} exists but cannot be read yet`);
        if (!isOwnShard(name, existing) || JSON.stringify(existing) !== JSON.stringify(doc)) {
          log.error({ role: roleName, policy: arn }, "a policy named as jit's next deny shard exists and is not jit's: not attached; delete it and find out who created it");
          throw SubstrateDenied(substrateName, `create policy: ${name} exists under jit's path and is not the deny jit wrote, so jit does not attach it`);
        }
      }
      await call('attach role policy', iam, new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: arn }), roleName);
      return { arn, name, doc, heldDoc: await readDoc(arn, roleName) };
    },

    remove: removeShard,

    async sweepOrphans(roleName, t) {
      let removed = 0;
      for (const p of await listOwn(roleName)) {
        if (p.AttachmentCount !== 0 || !p.Arn || (p.CreateDate?.getTime() ?? t) > t - MANAGED_ORPHAN_AGE_MS) continue;
        await call('delete policy', iam, new DeletePolicyCommand({ PolicyArn: p.Arn }), roleName).catch(ignore(['DeleteConflict', 'DeleteConflictException']));
        removed++;
      }
      return removed;
    },
  };

  async function listOwn(roleName: string): Promise<NonNullable<ListPoliciesCommandOutput['Policies']>> {
    const all: NonNullable<ListPoliciesCommandOutput['Policies']> = [];
    let marker: string | undefined;
    do {
      const page = await call<ListPoliciesCommandOutput>('list policies', iam, new ListPoliciesCommand({ Scope: 'Local', PathPrefix: managedPath(roleName), Marker: marker }), roleName);
      all.push(...(page.Policies ?? []).filter((p) => isJitShard(roleName, p.PolicyName, p.Arn)));
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    return all;
  }

  function upstream(what: string): JitError {
    return SubstrateUpstreamFailed(substrateName, what);
  }

  async function findArn(roleName: string, name: string): Promise<string> {
    const found = (await listOwn(roleName)).find((p) => p.PolicyName === name)?.Arn;
    if (!found) throw upstream(`create policy: ${name} exists but is not listed yet`);
    return found;
  }
}
