// Merge requests: opened, edited, closed and reopened (with the webhooks each raises), their
// commits, diff refs and conflicts.
import type { Commit } from '../git';
import { badRequest, notFound, paramError, unprocessable } from '../http-error';
import type { MergeRequest, Project, User } from '../model';
import { ACCESS } from './access';
import { RepositoryState } from './repository';

/** Raised when an open MR already exists for the branch pair: GitLab answers 409 with this message list. */
export class ConflictMr extends Error {
  constructor(readonly iid: number) {
    super(`Another open merge request already exists for this source branch: !${iid}`);
  }
}

/** Timestamps as GitLab writes them in hook `changes`: "2017-09-15 16:52:00 UTC". */
export function hookTime(d: Date): string {
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');
}

export class MergeRequestState extends RepositoryState {
  // ---------------------------------------------------------------- merge requests

  findMr(project: Project, iid: string | number): MergeRequest {
    const n = Number(iid);
    const mr = Number.isInteger(n) ? project.mergeRequests.find((m) => m.iid === n) : undefined;
    if (!mr) throw notFound();
    return mr;
  }

  createMr(
    project: Project,
    user: User,
    input: { sourceBranch: string; targetBranch: string; title: string; description?: string; assigneeIds?: number[]; reviewerIds?: number[]; labels?: string[]; removeSourceBranch?: boolean },
  ): MergeRequest {
    if (!input.sourceBranch) throw paramError('source_branch is missing');
    if (!input.targetBranch) throw paramError('target_branch is missing');
    if (!input.title) throw paramError('title is missing');
    if (input.title.length > 255) throw badRequest('title is too long (maximum is 255 characters)');
    if ((input.description ?? '').length > 1_048_576) throw badRequest('description is too long (maximum is 1048576 characters)');
    this.requireAccess(user, project, ACCESS.developer);
    const head = project.branches.get(input.sourceBranch);
    if (!head) throw badRequest('Invalid source branch'); // GitLab: 400 with a validation message
    if (!project.branches.has(input.targetBranch)) throw badRequest('Invalid target branch');
    if (input.sourceBranch === input.targetBranch) throw unprocessable(["You can't use same project/branch for source and target"]);
    const dup = project.mergeRequests.find((m) => m.state === 'opened' && m.sourceBranch === input.sourceBranch && m.targetBranch === input.targetBranch);
    if (dup) throw new ConflictMr(dup.iid);
    const now = this.now();
    const mr: MergeRequest = {
      id: this.nextId.mr++,
      iid: project.nextMrIid++,
      projectId: project.id,
      title: input.title,
      description: input.description ?? '',
      sourceBranch: input.sourceBranch,
      targetBranch: input.targetBranch,
      authorId: user.id,
      assigneeIds: this.validUserIds(input.assigneeIds),
      reviewerIds: this.validUserIds(input.reviewerIds),
      labels: this.ensureLabels(project, input.labels ?? []),
      state: 'opened',
      headSha: head,
      mergedTargetSha: null,
      mergeCommitSha: null,
      mergeUserId: null,
      mergedAt: null,
      closedById: null,
      closedAt: null,
      approvals: [],
      versions: [{ id: 1, headSha: head, createdAt: now }],
      rules: project.approvalRules.map((r) => ({ ...r, id: this.nextId.rule++, userIds: [...r.userIds], groupIds: [...r.groupIds], sourceRuleId: r.id })),
      rulesOverwritten: false,
      notes: [],
      createdAt: now,
      updatedAt: now,
      updatedById: null,
      lastEditedAt: null,
      lastEditedById: null,
      removeSourceBranch: input.removeSourceBranch ?? false,
    };
    project.mergeRequests.push(mr);
    this.opts.emit({ kind: 'merge_request', project, mr, actor: user, action: 'open', changes: {} });
    return mr;
  }

  protected validUserIds(ids: number[] | undefined): number[] {
    return [...new Set((ids ?? []).filter((id) => this.userById(id)))];
  }

  isDraft(mr: MergeRequest): boolean {
    return /^\s*(\[draft\]|\(draft\)|draft:|draft\s-\s)/i.test(mr.title);
  }

  editMr(
    project: Project,
    mr: MergeRequest,
    user: User,
    input: {
      title?: string;
      description?: string;
      targetBranch?: string;
      stateEvent?: string;
      labels?: string[];
      addLabels?: string[];
      removeLabels?: string[];
      assigneeIds?: number[];
      reviewerIds?: number[];
      removeSourceBranch?: boolean;
    },
  ): MergeRequest {
    if (mr.authorId !== user.id) this.requireAccess(user, project, ACCESS.developer);
    else this.requireAccess(user, project, ACCESS.guest);
    const changes: Record<string, { previous: unknown; current: unknown }> = {};
    const now = this.now();
    const set = <K extends keyof MergeRequest>(key: K, attr: string, value: MergeRequest[K]) => {
      if (JSON.stringify(mr[key]) === JSON.stringify(value)) return;
      changes[attr] = { previous: mr[key], current: value };
      mr[key] = value;
    };
    const wasDraft = this.isDraft(mr);
    if (input.title !== undefined) {
      if (!input.title) throw badRequest("title can't be blank");
      if (input.title.length > 255) throw badRequest('title is too long (maximum is 255 characters)');
      set('title', 'title', input.title);
    }
    if (input.description !== undefined) {
      if (input.description.length > 1_048_576) throw badRequest('description is too long (maximum is 1048576 characters)');
      set('description', 'description', input.description);
    }
    if (input.targetBranch !== undefined) {
      if (!project.branches.has(input.targetBranch)) throw badRequest('Invalid target branch');
      set('targetBranch', 'target_branch', input.targetBranch);
    }
    if (input.assigneeIds !== undefined) set('assigneeIds', 'assignees', this.validUserIds(input.assigneeIds));
    if (input.reviewerIds !== undefined) set('reviewerIds', 'reviewers', this.validUserIds(input.reviewerIds));
    if (input.removeSourceBranch !== undefined) mr.removeSourceBranch = input.removeSourceBranch;
    let labels = mr.labels;
    if (input.labels !== undefined) labels = this.ensureLabels(project, input.labels);
    if (input.addLabels) labels = [...new Set([...labels, ...this.ensureLabels(project, input.addLabels)])];
    if (input.removeLabels) labels = labels.filter((l) => !input.removeLabels?.includes(l));
    if (JSON.stringify(labels) !== JSON.stringify(mr.labels)) {
      changes['labels'] = { previous: mr.labels, current: labels };
      mr.labels = labels;
    }
    if (this.isDraft(mr) !== wasDraft) changes['draft'] = { previous: wasDraft, current: this.isDraft(mr) };
    let action: 'update' | 'close' | 'reopen' = 'update';
    if (input.stateEvent !== undefined) {
      if (input.stateEvent === 'close') {
        if (mr.state === 'opened') {
          changes['state_id'] = { previous: 1, current: 2 };
          mr.state = 'closed';
          mr.closedAt = now;
          mr.closedById = user.id;
          action = 'close';
        }
      } else if (input.stateEvent === 'reopen') {
        if (mr.state === 'closed') {
          if (!project.branches.has(mr.sourceBranch)) throw unprocessable('Cannot reopen merge request: source branch was deleted');
          changes['state_id'] = { previous: 2, current: 1 };
          mr.state = 'opened';
          mr.closedAt = null;
          mr.closedById = null;
          mr.headSha = project.branches.get(mr.sourceBranch) as string;
          action = 'reopen';
        }
      } else throw paramError('state_event does not have a valid value');
    }
    const contentChanged = ['title', 'description'].some((k) => k in changes);
    if (Object.keys(changes).length > 0) {
      changes['updated_at'] = { previous: hookTime(mr.updatedAt), current: hookTime(now) };
      if (mr.updatedById !== user.id) changes['updated_by_id'] = { previous: mr.updatedById, current: user.id };
      mr.updatedAt = now;
      mr.updatedById = user.id;
      if (contentChanged) {
        changes['last_edited_at'] = { previous: mr.lastEditedAt ? hookTime(mr.lastEditedAt) : null, current: hookTime(now) };
        changes['last_edited_by_id'] = { previous: mr.lastEditedById, current: user.id };
        mr.lastEditedAt = now;
        mr.lastEditedById = user.id;
      }
      if (action === 'update') this.opts.emit({ kind: 'merge_request', project, mr, actor: user, action, changes });
    }
    if (action !== 'update') this.opts.emit({ kind: 'merge_request', project, mr, actor: user, action, changes });
    return mr;
  }

  /** The commits an MR brings, newest first (frozen for merged MRs). */
  mrCommits(project: Project, mr: MergeRequest): Commit[] {
    const target = mr.mergedTargetSha ?? project.branches.get(mr.targetBranch);
    const base = target ? this.store.mergeBase(mr.headSha, target) : undefined;
    return this.store.commitsBetween(base, mr.headSha);
  }

  diffRefs(project: Project, mr: MergeRequest): { base_sha: string | null; head_sha: string; start_sha: string | null } {
    const target = mr.mergedTargetSha ?? project.branches.get(mr.targetBranch) ?? null;
    const base = target ? (this.store.mergeBase(mr.headSha, target) ?? null) : null;
    return { base_sha: base, head_sha: mr.headSha, start_sha: target };
  }

  private readonly conflictCache = new Map<string, boolean>();

  hasConflicts(project: Project, mr: MergeRequest): boolean {
    if (mr.state !== 'opened') return false;
    const target = project.branches.get(mr.targetBranch);
    if (!target) return false;
    const key = `${mr.headSha}:${target}`;
    const cached = this.conflictCache.get(key);
    if (cached !== undefined) return cached;
    const base = this.store.mergeBase(mr.headSha, target);
    const merged = this.mergeTrees(base ? this.store.commit(base) : undefined, this.store.commit(target) as Commit, this.store.commit(mr.headSha) as Commit);
    this.conflictCache.set(key, merged === undefined);
    return merged === undefined;
  }
}
