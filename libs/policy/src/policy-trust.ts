// The policy trust fold: which policy versions were ratified, refused or reported as bypasses, read
// from the policy events of jit.elevations.v1 (policy.ratified / .refused / .bypass.detected, all
// keyed policy-<project> so they arrive in order). The policy in force is the last ratified version:
// the same on every replica and after every restart, because it is computed from the log alone.
import { createHash } from 'node:crypto';
import { EVENT_TYPES, parseElevationEvent, type PolicyRatifiedData } from '@jit/contracts';

/** A ratified policy version: where to read it and who ratified it (the catalog shows this). */
export interface RatifiedPolicy {
  version: string;
  commitSha: string;
  how: 'merge' | 'pin';
  mrIid?: number;
  approvers: string[];
  /** Who merged the ratifying MR (GitLab's merge_user), when GitLab said. */
  mergedBy?: string;
  ratifiedAt: string;
  previousVersion?: string;
  eventId: string;
}

/** How a merged policy MR was judged, as the log says. */
export type PolicyMergeVerdict = 'ratified' | 'refused' | 'bypass';

export interface PolicyTrust {
  /** Applies one event of jit.elevations.v1; returns true when it was a new policy event of this project. */
  apply(event: unknown): boolean;
  /** The version in force: the last one ratified on the log. */
  current(): RatifiedPolicy | undefined;
  /** Any version ever ratified (a request approved under it is still issued under it). */
  ratified(version: string): RatifiedPolicy | undefined;
  /** The verdict the log holds for a merged MR, if any. */
  verdictOf(mrIid: number): PolicyMergeVerdict | undefined;
  /** Whether this version was refused or reported as a bypass (so it is not reported again). */
  reported(version: string): boolean;
}

/** Git's blob id of a file's bytes (what GitLab reports as `blob_id`): the policy version of that content. */
export function policyBlobSha(content: string | Uint8Array): string {
  const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  return createHash('sha1').update(`blob ${bytes.byteLength}\0`).update(bytes).digest('hex');
}

export function createPolicyTrust(projectId: number): PolicyTrust {
  const seen = new Set<string>();
  const byVersion = new Map<string, RatifiedPolicy>();
  const verdicts = new Map<number, PolicyMergeVerdict>();
  const reportedVersions = new Set<string>();
  let inForce: RatifiedPolicy | undefined;

  return {
    apply(input) {
      const parsed = parseElevationEvent(input);
      if (!parsed.ok) return false;
      const ev = parsed.event;
      if (ev.type !== EVENT_TYPES.policyRatified && ev.type !== EVENT_TYPES.policyRefused && ev.type !== EVENT_TYPES.policyBypassDetected) return false;
      if (ev.data.projectId !== projectId || seen.has(ev.id)) return false;
      seen.add(ev.id);
      if (ev.type === EVENT_TYPES.policyRatified) {
        const d: PolicyRatifiedData = ev.data;
        const r: RatifiedPolicy = {
          version: d.version,
          commitSha: d.commitSha,
          how: d.how,
          ...(d.mrIid ? { mrIid: d.mrIid } : {}),
          approvers: [...d.approvers],
          ...(d.mergedBy ? { mergedBy: d.mergedBy } : {}),
          ratifiedAt: d.ratifiedAt,
          ...(d.previousVersion ? { previousVersion: d.previousVersion } : {}),
          eventId: ev.id,
        };
        // A pin only roots an empty log: once anything was ratified, a (replayed) pin changes nothing.
        if (d.how === 'pin' && inForce) return true;
        if (!byVersion.has(d.version)) byVersion.set(d.version, r);
        if (d.mrIid) verdicts.set(d.mrIid, 'ratified');
        inForce = r;
        reportedVersions.delete(d.version);
        return true;
      }
      if (ev.type === EVENT_TYPES.policyRefused) {
        if (!verdicts.has(ev.data.mrIid)) verdicts.set(ev.data.mrIid, 'refused');
        if (ev.data.version && ev.data.version !== inForce?.version) reportedVersions.add(ev.data.version);
        return true;
      }
      if (ev.data.mrIid && !verdicts.has(ev.data.mrIid)) verdicts.set(ev.data.mrIid, 'bypass');
      if (ev.data.version && ev.data.version !== inForce?.version) reportedVersions.add(ev.data.version);
      return true;
    },
    current: () => inForce,
    ratified: (version) => byVersion.get(version),
    verdictOf: (mrIid) => verdicts.get(mrIid),
    reported: (version) => reportedVersions.has(version),
  };
}
