// An in-memory Substrate double for unit tests of the issuer, revoker and sweep: it keeps the
// full contract (idempotent by grant id, revoke twice, listIssued) and can be told to fail.
import { randomBytes } from 'node:crypto';
import { SubstrateInvalidHandle, SubstrateInvalidScope, SubstrateUnreachable } from '../errors';
import { grantWindow } from '../grant-window';
import type { IssueRequest, Issued, Problem, RevocationHandle, Substrate, VerifyResult } from '../substrate';

export interface MemorySubstrateOptions {
  kind?: string;
  name?: string;
  maxTtlSeconds?: number;
  canRevokeEarly?: boolean;
}

export type MemoryOperation = 'issue' | 'revoke' | 'listIssued' | 'verifyRevoked';

export interface MemorySubstrate extends Substrate {
  /** Whether a secret this double issued still works (the "probe"). */
  works(secret: Record<string, string>): boolean;
  /** Make the next `count` calls of `op` throw `err` (default: a retriable UNREACHABLE). */
  failNext(op: MemoryOperation, err?: Error, count?: number): void;
  /** Calls made, in order, e.g. `issue:<grant>`, `revoke:<grant>`. */
  readonly calls: string[];
  /** Live credentials by grant id. */
  readonly live: ReadonlyMap<string, Issued>;
}

export function createMemorySubstrate(options: MemorySubstrateOptions = {}): MemorySubstrate {
  const kind = options.kind ?? 'memory';
  const name = options.name ?? kind;
  const live = new Map<string, Issued>();
  const failures = new Map<MemoryOperation, Error[]>();
  const calls: string[] = [];

  const maybeFail = (op: MemoryOperation): void => {
    const queue = failures.get(op);
    const err = queue?.shift();
    if (err) throw err;
  };

  const checkHandle = (h: RevocationHandle): string => {
    if (h.kind !== kind || typeof h.ref.credentialId !== 'string') throw SubstrateInvalidHandle(name, 'expected ref.credentialId');
    return h.ref.credentialId;
  };

  const validateScope = (scope: unknown): Problem[] => {
    if (!scope || typeof scope !== 'object' || Array.isArray(scope)) return [{ path: 'scope', message: 'must be an object' }];
    const access = (scope as { access?: unknown }).access;
    if (access !== 'read' && access !== 'write') return [{ path: 'scope.access', message: 'must be "read" or "write"' }];
    return [];
  };

  return {
    kind,
    name,
    maxTtlSeconds: options.maxTtlSeconds,
    canRevokeEarly: options.canRevokeEarly ?? true,
    calls,
    live,
    // a credential stops working at its expiry, as on a real backend
    works: (secret) => [...live.values()].some((x) => x.secret.token === secret.token && Date.parse(x.expiresAt) > Date.now()),
    failNext(op, err, count = 1) {
      const queue = failures.get(op) ?? [];
      for (let i = 0; i < count; i++) queue.push(err ?? SubstrateUnreachable(name, `${op}: injected failure`));
      failures.set(op, queue);
    },
    validateScope,
    async issue(req: IssueRequest): Promise<Issued> {
      calls.push(`issue:${req.grantId}`);
      maybeFail('issue');
      const problems = validateScope(req.scope);
      if (problems.length) throw SubstrateInvalidScope(name, problems.map((p) => `${p.path} ${p.message}`).join('; '));
      const existing = live.get(req.grantId);
      if (existing) return existing;
      const expiresAt = grantWindow(name, req, new Date()).expiresAt.toISOString();
      const credentialId = `mem-${req.grantId}`;
      const out: Issued = {
        secret: { token: `memtok-${randomBytes(16).toString('hex')}` },
        handle: { kind, ...(name !== kind ? { instance: name } : {}), grantId: req.grantId, ref: { credentialId }, expiresAt },
        expiresAt,
      };
      live.set(req.grantId, out);
      return out;
    },
    async revoke(handle: RevocationHandle): Promise<void> {
      calls.push(`revoke:${handle.grantId}`);
      checkHandle(handle);
      maybeFail('revoke');
      live.delete(handle.grantId);
    },
    async verifyRevoked(handle: RevocationHandle): Promise<VerifyResult> {
      maybeFail('verifyRevoked');
      checkHandle(handle);
      return { verified: !live.has(handle.grantId) };
    },
    async listIssued(): Promise<RevocationHandle[]> {
      maybeFail('listIssued');
      return [...live.values()].map((x) => x.handle);
    },
  };
}
