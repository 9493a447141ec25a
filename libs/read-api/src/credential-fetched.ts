// elevation.credential.fetched: who fetched a sealed credential, when, and how they were
// authenticated (their GitLab token, or a CI ID token and its job) — never the token.
import { EVENT_TYPES, createElevationEvent, type AnyElevationEvent } from '@jit/contracts';
import type { Caller } from '@jit/identity-contract';
import type { ElevationState } from '@jit/ledger';

export function credentialFetchedEvent(e: Pick<ElevationState, 'id' | 'grantId'>, caller: Caller, source: string, at = new Date()): AnyElevationEvent {
  const ci = caller.ci;
  return createElevationEvent(
    EVENT_TYPES.credentialFetched,
    {
      elevationId: e.id,
      grantId: e.grantId!,
      by: caller.username,
      via: caller.via,
      at: at.toISOString(),
      ...(ci
        ? {
            ci: {
              projectPath: ci.projectPath,
              ...(ci.projectId ? { projectId: ci.projectId } : {}),
              ...(ci.ref ? { ref: ci.ref } : {}),
              ...(ci.refType ? { refType: ci.refType } : {}),
              ...(ci.pipelineId ? { pipelineId: ci.pipelineId } : {}),
              ...(ci.jobId ? { jobId: ci.jobId } : {}),
            },
          }
        : {}),
    },
    { source },
  ) as AnyElevationEvent;
}
