// The repository of a project: commits (the REST commits API and git pushes), branches and the
// Push Hooks and push events a push raises, three-way merges; and a project's labels and hooks.
import type { Commit, Signature } from '../git';
import { badRequest, conflict, forbidden, notFound, paramError } from '../http-error';
import type { FileAction, Hook, Label, Project, User } from '../model';
import type { SeedHook } from '../seed';
import { ACCESS, AccessState } from './access';

const MAX_FILE_BYTES = 10 * 1024 * 1024;
export const ZERO_SHA = '0'.repeat(40);
/** GitLab lists at most the newest 20 commits in a Push Hook (total_commits_count has them all). */
const PUSH_HOOK_COMMITS = 20;

/** Clean a repository path; '' when it escapes the root or is empty. */
export function normalizePath(p: unknown): string {
  if (typeof p !== 'string' || p.length === 0 || p.length > 4096 || p.includes('\0')) return '';
  const parts = p.split('/');
  if (p.startsWith('/') || parts.some((s) => s === '' || s === '.' || s === '..')) return '';
  return parts.join('/');
}

export class RepositoryState extends AccessState {
  // ---------------------------------------------------------------- repository

  branchHead(project: Project, branch: string): string | undefined {
    return project.branches.get(branch);
  }

  /** Resolve a ref (branch name, full or short sha) to a commit. */
  resolveRef(project: Project, ref: string): Commit | undefined {
    const head = project.branches.get(ref);
    if (head) return this.store.commit(head);
    const commit = this.store.findCommit(ref);
    // A commit is visible in a project only if one of its branches reaches it.
    if (commit && [...project.branches.values()].some((h) => this.store.isAncestor(commit.id, h))) return commit;
    if (commit && project.mergeRequests.some((m) => this.store.isAncestor(commit.id, m.headSha))) return commit;
    return undefined;
  }

  signatureOf(user: User): Signature {
    return { name: user.name, email: user.email, time: this.seconds() };
  }

  /** POST /projects/:id/repository/commits semantics. */
  commit(
    project: Project,
    user: User,
    input: {
      branch: string;
      startBranch?: string;
      startSha?: string;
      message: string;
      actions: FileAction[];
      authorName?: string;
      authorEmail?: string;
      /** A git push's committer line (the REST API always writes the user's own). */
      committerName?: string;
      committerEmail?: string;
      force?: boolean;
    },
    /** A git push's author and committer dates (seconds), which the pusher writes; the REST API always writes now. */
    time?: number,
  ): Commit {
    if (!input.branch) throw paramError('branch is missing');
    if (!input.message) throw paramError('commit_message is missing');
    if (!Array.isArray(input.actions) || input.actions.length === 0) throw paramError('actions is missing');
    if (input.actions.length > 1000) throw paramError('actions has too many elements');
    if (!this.canPush(user, project, input.branch)) throw forbidden();
    const existing = project.branches.get(input.branch);
    let parentId = existing;
    if (input.startSha) {
      const c = this.resolveRef(project, input.startSha);
      if (!c) throw badRequest(`Invalid start SHA: ${input.startSha}`);
      parentId = c.id;
    } else if (input.startBranch) {
      const h = project.branches.get(input.startBranch);
      if (!h) throw badRequest(`You can only create or edit files when you are on a branch`);
      if (existing && !input.force && existing !== h) throw badRequest(`A branch called '${input.branch}' already exists. Switch to that branch in order to make changes`);
      parentId = h;
    }
    if (!parentId) throw badRequest('You can only create or edit files when you are on a branch');
    const parent = this.store.commit(parentId) as Commit;
    const files = new Map(parent.files);
    for (const [i, a] of input.actions.entries()) this.applyAction(files, a, i);
    const author = this.signatureOf(user);
    const committer = this.signatureOf(user);
    if (time !== undefined) author.time = committer.time = time;
    if (input.authorName) author.name = input.authorName;
    if (input.authorEmail) author.email = input.authorEmail;
    const message = input.message;
    if (input.committerName) committer.name = input.committerName;
    if (input.committerEmail) committer.email = input.committerEmail;
    const commit = this.store.writeCommit({ files, parents: [parent.id], author, committer, message });
    this.moveBranch(project, input.branch, commit.id, user);
    return commit;
  }

  private applyAction(files: Map<string, string>, a: FileAction, i: number): void {
    if (!a || typeof a !== 'object') throw paramError(`actions[${i}] is invalid`);
    const path = normalizePath(a.file_path);
    if (!path) throw paramError(`actions[${i}][file_path] is invalid`);
    const content = (): string => {
      if (a.content === undefined || a.content === null) return '';
      if (typeof a.content !== 'string') throw paramError(`actions[${i}][content] is invalid`);
      const buf = a.encoding === 'base64' ? Buffer.from(a.content, 'base64') : Buffer.from(a.content, 'utf8');
      if (buf.length > MAX_FILE_BYTES) throw badRequest(`A file in this commit is larger than ${MAX_FILE_BYTES} bytes`);
      return this.store.putBlob(buf);
    };
    const checkLast = (p: string): void => {
      if (a.last_commit_id !== undefined) {
        // GitLab compares with the last commit that touched the file; we approximate with the blob.
        const c = this.store.findCommit(a.last_commit_id);
        if (!c || c.files.get(p) !== files.get(p)) throw badRequest(`The file has changed since you started editing it: ${p}`);
      }
    };
    switch (a.action) {
      case 'create':
        if (files.has(path)) throw badRequest(`A file with this name already exists`);
        files.set(path, content());
        return;
      case 'update':
        if (!files.has(path)) throw badRequest(`A file with this name doesn't exist`);
        checkLast(path);
        files.set(path, content());
        return;
      case 'delete':
        if (!files.has(path)) throw badRequest(`A file with this name doesn't exist`);
        checkLast(path);
        files.delete(path);
        return;
      case 'move': {
        const prev = normalizePath(a.previous_path ?? '');
        if (!prev || !files.has(prev)) throw badRequest(`A file with this name doesn't exist`);
        if (files.has(path)) throw badRequest(`A file with this name already exists`);
        const blob = a.content === undefined || a.content === null ? (files.get(prev) as string) : content();
        files.delete(prev);
        files.set(path, blob);
        return;
      }
      case 'chmod':
        if (!files.has(path)) throw badRequest(`A file with this name doesn't exist`);
        return;
      default:
        throw paramError(`actions[${i}][action] does not have a valid value`);
    }
  }

  /** Point a branch at a commit (a push): a Push Hook, then open MRs from that branch see the new head. */
  moveBranch(project: Project, branch: string, sha: string, actor: User): void {
    const previous = project.branches.get(branch);
    project.branches.set(branch, sha);
    if (previous === sha) return;
    // A new branch's commits are those its default branch does not have.
    const since = previous ?? (branch === project.defaultBranch ? undefined : project.branches.get(project.defaultBranch));
    const pushed = this.store.commitsBetween(since, sha);
    this.emitPush(project, actor, branch, previous ?? ZERO_SHA, sha, pushed);
    for (const mr of project.mergeRequests) {
      if (mr.state !== 'opened' || mr.sourceBranch !== branch) continue;
      const oldrev = mr.headSha;
      mr.headSha = sha;
      mr.updatedAt = this.now();
      mr.versions.push({ id: mr.versions.length + 1, headSha: sha, createdAt: mr.updatedAt });
      const changes: Record<string, { previous: unknown; current: unknown }> = {};
      if (project.tier === 'premium' && project.approvalSettings.reset_approvals_on_push && mr.approvals.length > 0) mr.approvals = [];
      this.opts.emit({ kind: 'merge_request', project, mr, actor, action: 'update', changes, oldrev });
    }
  }

  private emitPush(project: Project, actor: User, branch: string, before: string, after: string, newestFirst: Commit[]): void {
    // GitLab records every push as a project event (EventCreateService#push), webhooks or not.
    project.pushEvents.push({
      id: project.pushEvents.length + 1,
      authorId: actor.id,
      action: before === ZERO_SHA ? 'created' : after === ZERO_SHA ? 'removed' : 'pushed',
      ref: branch,
      commitFrom: before === ZERO_SHA ? null : before,
      commitTo: after === ZERO_SHA ? null : after,
      commitCount: newestFirst.length,
      commitTitle: newestFirst[0] ? (newestFirst[0].message.split('\n')[0] ?? '').slice(0, 70) : null,
      createdAt: this.now(),
    });
    const commits = newestFirst.slice(0, PUSH_HOOK_COMMITS).reverse();
    this.opts.emit({ kind: 'push', project, actor, branch, before, after, commits, totalCommits: newestFirst.length });
  }

  createBranch(project: Project, user: User, branch: string, ref: string): Commit {
    if (!branch) throw paramError('branch is missing');
    if (!ref) throw paramError('ref is missing');
    if (!/^[A-Za-z0-9._/-]+$/.test(branch) || branch.includes('..') || branch.startsWith('/') || branch.endsWith('/') || branch.endsWith('.lock')) throw badRequest('Branch name is invalid');
    if (!this.canPush(user, project, branch)) throw forbidden();
    if (project.branches.has(branch)) throw badRequest('Branch already exists');
    const commit = this.resolveRef(project, ref);
    if (!commit) throw badRequest('Invalid reference name: ' + ref);
    project.branches.set(branch, commit.id);
    // "If you create and push a branch without any new commits, the commits attribute is empty."
    this.emitPush(project, user, branch, ZERO_SHA, commit.id, []);
    return commit;
  }

  deleteBranch(project: Project, user: User, branch: string): void {
    if (!project.branches.has(branch)) throw notFound('Branch');
    if (branch === project.defaultBranch) throw badRequest('The default branch of a project cannot be deleted.');
    if (this.protectedBranch(project, branch)) throw forbidden();
    this.requireAccess(user, project, ACCESS.developer);
    this.removeBranch(project, user, branch);
  }

  protected removeBranch(project: Project, actor: User, branch: string): void {
    const before = project.branches.get(branch);
    if (!before) return;
    project.branches.delete(branch);
    this.emitPush(project, actor, branch, before, ZERO_SHA, []);
  }

  /** Three-way merge of flattened trees; undefined when the same path changed differently on both sides. */
  mergeTrees(base: Commit | undefined, ours: Commit, theirs: Commit): Map<string, string> | undefined {
    const b = base?.files ?? new Map<string, string>();
    const paths = new Set([...b.keys(), ...ours.files.keys(), ...theirs.files.keys()]);
    const out = new Map<string, string>();
    for (const p of paths) {
      const [vb, vo, vt] = [b.get(p), ours.files.get(p), theirs.files.get(p)];
      let v: string | undefined;
      if (vo === vt) v = vo;
      else if (vb === vo) v = vt;
      else if (vb === vt) v = vo;
      else return undefined;
      if (v !== undefined) out.set(p, v);
    }
    return out;
  }

  // ---------------------------------------------------------------- labels

  createLabel(project: Project, name: string, color: string, description: string | null): Label {
    if (!name) throw paramError('name is missing');
    if (!color) throw paramError('color is missing');
    if (project.labels.some((l) => l.name === name)) throw conflict('Label already exists');
    const label: Label = { id: this.nextId.label++, name, color, description, createdAt: this.now() };
    project.labels.push(label);
    return label;
  }

  /** GitLab creates labels named on an MR/issue that do not exist yet. */
  ensureLabels(project: Project, names: string[]): string[] {
    const out: string[] = [];
    for (const raw of names) {
      const name = raw.trim();
      if (!name || out.includes(name)) continue;
      if (!project.labels.some((l) => l.name === name)) this.createLabel(project, name, '#6699cc', null);
      out.push(name);
    }
    return out;
  }

  // ---------------------------------------------------------------- hooks

  addHook(project: Project, h: SeedHook & { enable_ssl_verification?: boolean }): Hook {
    const hook: Hook = {
      id: this.nextId.hook++,
      projectId: project.id,
      url: h.url,
      token: h.token ?? null,
      signingToken: h.signing_token ?? null,
      events: {
        merge_requests_events: h.merge_requests_events,
        note_events: h.note_events,
        issues_events: h.issues_events,
        push_events: h.push_events,
      },
      enableSslVerification: h.enable_ssl_verification ?? true,
      createdAt: this.now(),
    };
    project.hooks.push(hook);
    return hook;
  }
}
