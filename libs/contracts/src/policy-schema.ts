// The structure of `policy.yaml` (contract: DESIGN.md §3) as zod schemas: names, durations,
// approvers, tiers, break-glass, recipients, targets and their scopes, notifications. policy.ts
// parses a file with them and checks what a schema cannot see.
import { z } from 'zod';
import { isAgeRecipient } from './age-recipient';
import { tryParseDuration } from './duration';
import { EVENT_TYPES } from './topics';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
// Tier names start with a letter: JS objects would reorder integer-like keys and lose the rank.
const TIER_NAME_RE = /^[A-Za-z][A-Za-z0-9._-]{0,62}$/;
const SUBSTRATE_RE = /^[a-z][a-z0-9-]{0,31}(?::[A-Za-z0-9][A-Za-z0-9._-]{0,62})?$/;
const USER_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}$/;
const GROUP_RE = /^[A-Za-z0-9_.][A-Za-z0-9_./-]{0,254}$/;

const durationS = z.string().superRefine((s, ctx) => {
  const r = tryParseDuration(s);
  if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message });
});
const userS = z.string().regex(USER_RE, 'must be a GitLab username');
const groupS = z.string().regex(GROUP_RE, 'must be a GitLab group path');
const approvalsS = z.number().int('must be a whole number').min(0).max(20);

export const approversS = z
  .strictObject({
    anyHuman: z.literal(true, { error: 'must be true when given' }).optional(),
    groups: z.array(groupS).min(1, 'must list at least one group when given').max(100).optional(),
    users: z.array(userS).min(1, 'must list at least one user when given').max(1000).optional(),
  })
  .superRefine((a, ctx) => {
    if (!a.anyHuman && !a.groups && !a.users) {
      ctx.addIssue({ code: 'custom', message: 'must name who may approve: anyHuman: true, groups or users' });
    }
    if (a.anyHuman && (a.groups || a.users)) {
      ctx.addIssue({ code: 'custom', message: 'anyHuman: true cannot be combined with groups or users' });
    }
  });

const tierS = z.strictObject({
  ttlMax: durationS,
  approvals: approvalsS,
  approvers: approversS,
  requireRollbackPlan: z.boolean().optional(),
});

/** Named humans only: who may use break-glass (users and/or groups; never anyHuman, never agents). */
const requestersS = z
  .strictObject({
    groups: z.array(groupS).min(1, 'must list at least one group when given').max(100).optional(),
    users: z.array(userS).min(1, 'must list at least one user when given').max(1000).optional(),
  })
  .refine((r) => r.groups || r.users, 'must name the groups or users (humans on call) who may use break-glass');

const breakGlassS = z.strictObject({
  ttlMax: durationS,
  approvals: approvalsS,
  approvers: approversS,
  /** Who may request break-glass. Absent: nobody may (a request is rejected, pointing here). */
  requesters: requestersS.optional(),
  reviewWithin: durationS,
  requireRollbackPlan: z.boolean().optional(),
});

/** An age X25519 public key a user registers: `age1` + 58 bech32 characters with a valid checksum. */
const recipientKeyS = z.string().refine(isAgeRecipient, {
  error: (i) =>
    typeof i.input === 'string' && /^AGE-SECRET-KEY-/i.test(i.input)
      ? 'is an age identity (secret key); register the public key `jit keygen` prints (age1...), never the identity'
      : 'must be an age X25519 public key: age1 + 58 bech32 characters, as `jit keygen` prints it',
});

/** GitLab username → the age public keys credentials for that user's requests may be sealed to. */
const recipientsS = z.record(
  z.string().regex(USER_RE, 'keys under recipients are GitLab usernames'),
  z.array(recipientKeyS).min(1, 'must list at least one age public key (age1...) or leave the user out').max(20),
);

const scopeS = z.looseObject({ tier: z.string().regex(TIER_NAME_RE, 'must be a tier name') });

const targetS = z.strictObject({
  substrate: z.string().regex(SUBSTRATE_RE, 'must be a substrate kind or kind:instance, e.g. postgres or vault:prod'),
  description: z.string().max(2000).optional(),
  connection: z.record(z.string(), z.unknown()).optional(),
  scopes: z.record(z.string().regex(NAME_RE, 'scope names are letters, digits, . _ - (max 63)'), scopeS).refine((r) => Object.keys(r).length > 0, 'must define at least one scope'),
});

/**
 * Event names a notification route may name: the event type without `dev.jit.` and `.v1`
 * (`elevation.requested`, `elevation.bypass.detected`, `policy.bypass.detected`, …).
 */
export const NOTIFY_EVENT_NAMES: readonly string[] = Object.values(EVENT_TYPES).map((t) => t.replace(/^dev\.jit\./, '').replace(/\.v1$/, ''));
/** Kinds of notification channel: Slack incoming webhook, Teams workflow webhook, generic JSON webhook. */
export const NOTIFY_CHANNEL_KINDS = ['slack', 'teams', 'webhook'] as const;
export type NotifyChannelKind = (typeof NOTIFY_CHANNEL_KINDS)[number];

// Channels are names only: each webhook URL is a secret the notifier gets as a setting
// (JIT_NOTIFY_CHANNELS), never written here (policy.yaml is in git).
const notificationsS = z.strictObject({
  channels: z.record(
    z.string().regex(NAME_RE, 'channel names are letters, digits, . _ - (max 63)'),
    z.strictObject({
      kind: z.enum(NOTIFY_CHANNEL_KINDS, { error: 'must be slack, teams or webhook' }),
      description: z.string().max(500).optional(),
    }),
  ),
  routes: z
    .array(
      z.strictObject({
        events: z
          .array(z.string().refine((e) => NOTIFY_EVENT_NAMES.includes(e), { error: 'must be an event name such as elevation.requested or elevation.bypass.detected' }))
          .min(1)
          .max(50),
        tiers: z.array(z.string().regex(TIER_NAME_RE, 'must be a tier name')).min(1).max(50).optional(),
        targets: z.array(z.string().regex(NAME_RE, 'must be a target name')).min(1).max(500).optional(),
        breakGlass: z.boolean().optional(),
        to: z.array(z.string().regex(NAME_RE, 'must be a channel name')).min(1).max(20),
      }),
    )
    .max(200),
});

export const policySchema = z.strictObject({
  tiers: z.record(z.string().regex(TIER_NAME_RE, 'tier names start with a letter; letters, digits, . _ - (max 63)'), tierS).refine((r) => Object.keys(r).length > 0, 'must define at least one tier'),
  breakGlass: breakGlassS.optional(),
  agents: z.array(userS).max(1000).optional(),
  /** Who may read every elevation through the API (groups and/or users). */
  auditors: z
    .strictObject({
      groups: z.array(groupS).min(1, 'must list at least one group when given').max(100).optional(),
      users: z.array(userS).min(1, 'must list at least one user when given').max(1000).optional(),
    })
    .refine((a) => a.groups || a.users, 'must name the groups or users who may read every elevation')
    .optional(),
  recipients: recipientsS.optional(),
  policyApprovers: z
    .strictObject({
      groups: z.array(groupS).min(1).max(100).optional(),
      users: z.array(userS).min(1).max(1000).optional(),
      approvals: z.number().int().min(1).max(20),
    })
    .refine((p) => p.groups || p.users, 'must name groups or users who approve policy changes'),
  targets: z.record(z.string().regex(NAME_RE, 'target names are letters, digits, . _ - (max 63)'), targetS),
  /** Who hears about what (routes by event, tier, target, break-glass) and the channels' kinds. */
  notifications: notificationsS.optional(),
});
