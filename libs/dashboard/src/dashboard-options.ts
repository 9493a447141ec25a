// What the dashboard plugin is given: GitLab as the OAuth provider, who a token belongs to, the
// public URL, the session keys and lifetime; and those options built for a GitLab OAuth application.
import { createCallerLookup, createOAuthClient, type OAuthClient } from '@jit/gitlab';
import type { Logger } from '@jit/observability';
import type { SessionSealer } from './sessions';

export interface DashboardOptions {
  /** GitLab as the OAuth provider (redirect URI `${publicUrl}/ui/auth/callback`). */
  oauth: OAuthClient;
  /** Who a fresh OAuth token belongs to (GET /user). */
  tokenOwner: (token: string) => Promise<{ username: string }>;
  /** The URL users reach jit at: its origin is the only one a form may come from; https makes cookies Secure. */
  publicUrl: string;
  /** Longest a session lasts (default 8 h). */
  sessionTtlMs?: number;
  /**
   * The keys sessions are sealed with (32 bytes each, base64url; JIT_UI_SESSION_KEY): the first
   * seals, all open. Every replica needs the same. Read at each use, so a rotated file takes effect.
   */
  sessionKeys: () => readonly string[];
  sessions?: SessionSealer;
  /** The clock (tests). */
  now?: () => number;
  /**
   * The policy in force as this process knows it, for a process that serves no /v1/catalog (the
   * issuer: the version the log ratified last). Who approved and merged it is left out: the
   * catalog shows that to auditors only, and the dashboard does not know who is one.
   */
  policyInForce?: () => Promise<{ version: string; how: 'merge' | 'pin'; at: string; mrIid?: number } | undefined>;
}

/** The plugin's options for a GitLab OAuth application (redirect URI `<publicUrl>/ui/auth/callback`, scope read_user). */
export function dashboardOptions(p: {
  gitlabUrl: string;
  clientId: string;
  clientSecret?: string;
  publicUrl: string;
  sessionTtlMs: number;
  sessionKeys: () => readonly string[];
  logger?: Logger;
}): DashboardOptions {
  const publicUrl = p.publicUrl.replace(/\/+$/, '');
  return {
    oauth: createOAuthClient({
      url: p.gitlabUrl,
      clientId: p.clientId,
      clientSecret: () => p.clientSecret,
      redirectUri: `${publicUrl}/ui/auth/callback`,
      scopes: [DASHBOARD_SCOPE],
      ...(p.logger ? { logger: p.logger } : {}),
    }),
    tokenOwner: createCallerLookup({ url: p.gitlabUrl, ...(p.logger ? { logger: p.logger } : {}) }).tokenOwner,
    publicUrl,
    sessionTtlMs: p.sessionTtlMs,
    sessionKeys: p.sessionKeys,
  };
}

/** All the dashboard asks of GitLab: who the user is; the read API does the rest with that token. */
export const DASHBOARD_SCOPE = 'read_user';
