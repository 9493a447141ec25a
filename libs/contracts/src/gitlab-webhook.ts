// The normalized GitLab webhook (contract): what webhook-ingest publishes on TOPIC_GITLAB as the
// `data` of a GITLAB_WEBHOOK_EVENT_TYPE CloudEvent, and the parser that derives it from GitLab's
// `Merge Request Hook` / `Note Hook` payloads; a `Push Hook` becomes a GitlabPushEvent. Only the fields the gate needs are read; the
// original payload travels alongside, untouched.
import { z } from 'zod';
import type { Problem } from './problem';

/** `X-Gitlab-Event` header values the ingest publishes; every other event is acknowledged and ignored. */
export const GITLAB_EVENT_HEADERS = {
  mergeRequest: 'Merge Request Hook',
  note: 'Note Hook',
  /** Branch pushes: who pushed (`user_username`, GitLab's own word) and which commits. */
  push: 'Push Hook',
} as const;

export const GitlabActorSchema = z.object({
  id: z.number().int(),
  username: z.string(),
  name: z.string(),
  /** Present only when GitLab says so; the gate decides "human" from its own lookups. */
  bot: z.boolean().optional(),
});
export type GitlabActor = z.infer<typeof GitlabActorSchema>;

export const GitlabNoteSchema = z.object({
  id: z.number().int(),
  body: z.string(),
  /** System notes are written by GitLab itself (e.g. "approved this merge request"). */
  system: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type GitlabNote = z.infer<typeof GitlabNoteSchema>;

export const GitlabWebhookEventSchema = z.object({
  kind: z.enum(['merge_request', 'note']),
  /** MR: open|close|reopen|update|approved|unapproved|approval|unapproval|merge; note: create|update. Null when GitLab sent none. */
  action: z.string().nullable(),
  projectId: z.number().int().positive(),
  projectPath: z.string().min(1),
  mrIid: z.number().int().positive(),
  mrId: z.number().int().nullable(),
  mrTitle: z.string().nullable(),
  /** opened | closed | locked | merged */
  mrState: z.string(),
  sourceBranch: z.string(),
  targetBranch: z.string(),
  /** `last_commit.id`: the MR head the event refers to. Null when GitLab sent no last commit. */
  headSha: z.string().nullable(),
  /** Previous head, only on MR updates that pushed code. */
  oldrev: z.string().optional(),
  mergeCommitSha: z.string().nullable(),
  authorId: z.number().int(),
  authorUsername: z.string().optional(),
  /** Who triggered the event (`user`). */
  actor: GitlabActorSchema,
  /** Only for kind = note. */
  note: GitlabNoteSchema.optional(),
  /** Label titles on the MR. */
  labels: z.array(z.string()),
  /** The MR's own timestamps, as GitLab formats them. */
  mrCreatedAt: z.string(),
  mrUpdatedAt: z.string(),
});
export type GitlabWebhookEvent = z.infer<typeof GitlabWebhookEventSchema>;

/** `data` of the CloudEvent on TOPIC_GITLAB: the normalized event, its delivery, and GitLab's payload as received. */
export const GitlabWebhookDataSchema = GitlabWebhookEventSchema.extend({
  delivery: z.object({
    /** Same as the CloudEvent id: webhook-id / Idempotency-Key, else X-Gitlab-Event-UUID, else a body hash. */
    id: z.string().min(1),
    eventUuid: z.string().optional(),
    webhookUuid: z.string().optional(),
    receivedAt: z.string(),
  }),
  payload: z.unknown(),
});
export type GitlabWebhookData = z.infer<typeof GitlabWebhookDataSchema>;

/**
 * A branch push (contract): who pushed which commits to which branch. GitLab lists at most 20
 * commits per push (`totalCommits` says how many there were); `after` is always the new head.
 */
export const GitlabPushEventSchema = z.object({
  kind: z.literal('push'),
  projectId: z.number().int().positive(),
  projectPath: z.string().min(1),
  /** Branch name (`ref` without `refs/heads/`). */
  branch: z.string().min(1),
  /** Previous head; 40 zeros when the push created the branch. */
  before: z.string().min(1),
  /** New head; 40 zeros when the push deleted the branch. */
  after: z.string().min(1),
  /** Who pushed (`user_id`, `user_username`, `user_name`): GitLab's account, not the commit's author line. */
  actor: GitlabActorSchema,
  /** The commits GitLab lists (at most 20), oldest first, with the author line each one claims. */
  commits: z.array(z.object({ id: z.string().min(1), authorName: z.string(), authorEmail: z.string() })),
  totalCommits: z.number().int().min(0),
});
export type GitlabPushEvent = z.infer<typeof GitlabPushEventSchema>;

/** `data` of the GITLAB_PUSH_EVENT_TYPE CloudEvent on TOPIC_GITLAB (key `<project_id>@<branch>`). */
export const GitlabPushDataSchema = GitlabPushEventSchema.extend({
  delivery: GitlabWebhookDataSchema.shape.delivery,
  payload: z.unknown(),
});
export type GitlabPushData = z.infer<typeof GitlabPushDataSchema>;

/** What is wrong in GitLab's payload: the `Problem` shape, its path dotted into the payload (e.g. `object_attributes.iid`). */
export type GitlabWebhookProblem = Pick<Problem, 'path' | 'message'>;

export type GitlabWebhookParseResult =
  { status: 'ok'; event: GitlabWebhookEvent } | { status: 'push'; event: GitlabPushEvent } | { status: 'ignored'; reason: string } | { status: 'invalid'; problems: GitlabWebhookProblem[] };

// --- GitLab's payload, only the parts we read (unknown keys are dropped, never merged) ---

const RawUser = z.object({
  id: z.number().int(),
  username: z.string().min(1),
  name: z.string().optional(),
  bot: z.boolean().optional(),
});
const RawProject = z.object({ id: z.number().int().positive(), path_with_namespace: z.string().min(1) });
const RawLabels = z.array(z.object({ title: z.string() })).nullish();
const RawMergeRequest = z.object({
  id: z.number().int().nullish(),
  iid: z.number().int().positive(),
  title: z.string().nullish(),
  state: z.string().min(1),
  source_branch: z.string().min(1),
  target_branch: z.string().min(1),
  author_id: z.number().int(),
  author: z.object({ username: z.string() }).nullish(),
  last_commit: z.object({ id: z.string().min(1) }).nullish(),
  merge_commit_sha: z.string().nullish(),
  oldrev: z.string().nullish(),
  action: z.string().nullish(),
  labels: RawLabels,
  created_at: z.string(),
  updated_at: z.string(),
});
const RawMergeRequestHook = z.object({
  object_kind: z.literal('merge_request'),
  user: RawUser,
  project: RawProject,
  object_attributes: RawMergeRequest,
  labels: RawLabels,
});
const RawNoteHook = z.object({
  object_kind: z.literal('note'),
  user: RawUser,
  project: RawProject,
  object_attributes: z.object({
    id: z.number().int(),
    note: z.string(),
    noteable_type: z.string(),
    action: z.string().nullish(),
    system: z.boolean().nullish(),
    created_at: z.string(),
    updated_at: z.string(),
  }),
  merge_request: RawMergeRequest.omit({ action: true, oldrev: true }),
});

const RawPushHook = z.object({
  object_kind: z.literal('push'),
  before: z.string().min(1),
  after: z.string().min(1),
  ref: z.string().min(1),
  user_id: z.number().int(),
  user_username: z.string().min(1),
  user_name: z.string().nullish(),
  project: RawProject,
  commits: z
    .array(z.object({ id: z.string().min(1), author: z.object({ name: z.string().nullish(), email: z.string().nullish() }).nullish() }))
    .max(1000)
    .nullish(),
  total_commits_count: z.number().int().min(0).nullish(),
});

function problemsOf(error: z.ZodError): GitlabWebhookProblem[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function labelTitles(...lists: (readonly { title: string }[] | null | undefined)[]): string[] {
  const first = lists.find((l) => Array.isArray(l));
  return first ? first.map((l) => l.title) : [];
}

/**
 * Normalize one GitLab webhook body. `eventHeader` is the `X-Gitlab-Event` value. Events jit does not
 * act on (pushes, notes on issues, ...) come back `ignored`; a payload missing what the gate needs
 * comes back `invalid` with one problem per missing or mistyped field.
 */
export function parseGitlabWebhook(eventHeader: string | undefined, json: unknown): GitlabWebhookParseResult {
  if (eventHeader === GITLAB_EVENT_HEADERS.mergeRequest) {
    const parsed = RawMergeRequestHook.safeParse(json);
    if (!parsed.success) return { status: 'invalid', problems: problemsOf(parsed.error) };
    const { user, project, object_attributes: mr, labels } = parsed.data;
    return {
      status: 'ok',
      event: {
        kind: 'merge_request',
        action: mr.action ?? null,
        projectId: project.id,
        projectPath: project.path_with_namespace,
        mrIid: mr.iid,
        mrId: mr.id ?? null,
        mrTitle: mr.title ?? null,
        mrState: mr.state,
        sourceBranch: mr.source_branch,
        targetBranch: mr.target_branch,
        headSha: mr.last_commit?.id ?? null,
        ...(mr.oldrev ? { oldrev: mr.oldrev } : {}),
        mergeCommitSha: mr.merge_commit_sha ?? null,
        authorId: mr.author_id,
        ...(mr.author?.username ? { authorUsername: mr.author.username } : {}),
        actor: actorOf(user),
        labels: labelTitles(mr.labels, labels),
        mrCreatedAt: mr.created_at,
        mrUpdatedAt: mr.updated_at,
      },
    };
  }
  if (eventHeader === GITLAB_EVENT_HEADERS.note) {
    // Notes on commits, issues and snippets are no business of the gate.
    const attrs = isRecord(json) && isRecord(json['object_attributes']) ? json['object_attributes'] : undefined;
    if (attrs && typeof attrs['noteable_type'] === 'string' && attrs['noteable_type'] !== 'MergeRequest') {
      return { status: 'ignored', reason: `note on ${attrs['noteable_type']}` };
    }
    const parsed = RawNoteHook.safeParse(json);
    if (!parsed.success) return { status: 'invalid', problems: problemsOf(parsed.error) };
    const { user, project, object_attributes: note, merge_request: mr } = parsed.data;
    return {
      status: 'ok',
      event: {
        kind: 'note',
        action: note.action ?? null,
        projectId: project.id,
        projectPath: project.path_with_namespace,
        mrIid: mr.iid,
        mrId: mr.id ?? null,
        mrTitle: mr.title ?? null,
        mrState: mr.state,
        sourceBranch: mr.source_branch,
        targetBranch: mr.target_branch,
        headSha: mr.last_commit?.id ?? null,
        mergeCommitSha: mr.merge_commit_sha ?? null,
        authorId: mr.author_id,
        ...(mr.author?.username ? { authorUsername: mr.author.username } : {}),
        actor: actorOf(user),
        note: {
          id: note.id,
          body: note.note,
          system: note.system ?? false,
          createdAt: note.created_at,
          updatedAt: note.updated_at,
        },
        labels: labelTitles(mr.labels),
        mrCreatedAt: mr.created_at,
        mrUpdatedAt: mr.updated_at,
      },
    };
  }
  if (eventHeader === GITLAB_EVENT_HEADERS.push) {
    const parsed = RawPushHook.safeParse(json);
    if (!parsed.success) return { status: 'invalid', problems: problemsOf(parsed.error) };
    const p = parsed.data;
    if (!p.ref.startsWith('refs/heads/')) return { status: 'ignored', reason: `push to ${p.ref.slice(0, 100)}` };
    const commits = p.commits ?? [];
    return {
      status: 'push',
      event: {
        kind: 'push',
        projectId: p.project.id,
        projectPath: p.project.path_with_namespace,
        branch: p.ref.slice('refs/heads/'.length),
        before: p.before,
        after: p.after,
        actor: { id: p.user_id, username: p.user_username, name: p.user_name ?? p.user_username },
        commits: commits.map((c) => ({ id: c.id, authorName: c.author?.name ?? '', authorEmail: c.author?.email ?? '' })),
        totalCommits: p.total_commits_count ?? commits.length,
      },
    };
  }
  return { status: 'ignored', reason: eventHeader ? `event ${eventHeader}` : 'no X-Gitlab-Event header' };
}

function actorOf(user: z.infer<typeof RawUser>): GitlabActor {
  return {
    id: user.id,
    username: user.username,
    name: user.name ?? user.username,
    ...(user.bot === undefined ? {} : { bot: user.bot }),
  };
}
