// Discussions: notes on merge requests and issues, and issues (with the webhooks each raises).
import { badRequest, forbidden, notFound, paramError } from '../http-error';
import type { Issue, MergeRequest, Note, Project, User } from '../model';
import { ACCESS } from './access';
import { ApprovalState } from './approvals';
import { hookTime } from './merge-requests';

export class DiscussionState extends ApprovalState {
  // ---------------------------------------------------------------- notes

  addNote(project: Project, target: { mr?: MergeRequest; issue?: Issue }, user: User, body: string): Note {
    if (typeof body !== 'string' || body.trim() === '') throw paramError('body is missing');
    if (body.length > 1_000_000) throw badRequest('Note {:note=>["is too long (maximum is 1000000 characters)"]}');
    this.requireAccess(user, project, ACCESS.guest);
    const now = this.now();
    const owner = (target.mr ?? target.issue) as MergeRequest | Issue;
    const note: Note = {
      id: this.nextId.note++,
      body,
      authorId: user.id,
      system: false,
      noteableType: target.mr ? 'MergeRequest' : 'Issue',
      noteableId: owner.id,
      noteableIid: owner.iid,
      createdAt: now,
      updatedAt: now,
      updatedById: null,
    };
    owner.notes.push(note);
    this.opts.emit({ kind: 'note', project, note, actor: user, action: 'create', mr: target.mr, issue: target.issue });
    return note;
  }

  editNote(project: Project, target: { mr?: MergeRequest; issue?: Issue }, user: User, noteId: number, body: string): Note {
    const owner = (target.mr ?? target.issue) as MergeRequest | Issue;
    const note = owner.notes.find((n) => n.id === noteId);
    if (!note) throw notFound('Note');
    if (typeof body !== 'string' || body.trim() === '') throw paramError('body is missing');
    if (body.length > 1_000_000) throw badRequest('Note {:note=>["is too long (maximum is 1000000 characters)"]}');
    if (note.authorId !== user.id && this.accessLevel(user, project) < ACCESS.maintainer) throw forbidden();
    note.body = body;
    note.updatedAt = this.now();
    note.updatedById = user.id;
    this.opts.emit({ kind: 'note', project, note, actor: user, action: 'update', mr: target.mr, issue: target.issue });
    return note;
  }

  removeNote(project: Project, target: { mr?: MergeRequest; issue?: Issue }, user: User, noteId: number): void {
    const owner = (target.mr ?? target.issue) as MergeRequest | Issue;
    const idx = owner.notes.findIndex((n) => n.id === noteId);
    if (idx === -1) throw notFound('Note');
    const note = owner.notes[idx] as Note;
    if (note.authorId !== user.id && this.accessLevel(user, project) < ACCESS.maintainer) throw forbidden();
    owner.notes.splice(idx, 1);
  }

  // ---------------------------------------------------------------- issues

  createIssue(project: Project, user: User, input: { title: string; description?: string; labels?: string[]; assigneeIds?: number[]; confidential?: boolean; dueDate?: string }): Issue {
    if (!input.title) throw paramError('title is missing');
    if (input.title.length > 255) throw badRequest('{:title=>["is too long (maximum is 255 characters)"]}');
    this.requireAccess(user, project, ACCESS.guest);
    const now = this.now();
    const issue: Issue = {
      id: this.nextId.issue++,
      iid: project.nextIssueIid++,
      projectId: project.id,
      title: input.title,
      description: input.description ?? '',
      authorId: user.id,
      assigneeIds: this.validUserIds(input.assigneeIds),
      labels: this.ensureLabels(project, input.labels ?? []),
      state: 'opened',
      confidential: input.confidential ?? false,
      dueDate: input.dueDate ?? null,
      notes: [],
      createdAt: now,
      updatedAt: now,
      updatedById: null,
      closedAt: null,
    };
    project.issues.push(issue);
    this.opts.emit({ kind: 'issue', project, issue, actor: user, action: 'open', changes: {} });
    return issue;
  }

  editIssue(project: Project, issue: Issue, user: User, input: { title?: string; description?: string; labels?: string[]; stateEvent?: string }): Issue {
    this.requireAccess(user, project, ACCESS.reporter);
    if (input.stateEvent !== undefined && input.stateEvent !== 'close' && input.stateEvent !== 'reopen') throw paramError('state_event does not have a valid value');
    if (input.title !== undefined && (input.title === '' || input.title.length > 255)) throw badRequest('{:title=>["is invalid"]}');
    const changes: Record<string, { previous: unknown; current: unknown }> = {};
    const now = this.now();
    if (input.title !== undefined && input.title !== issue.title) {
      changes['title'] = { previous: issue.title, current: input.title };
      issue.title = input.title;
    }
    if (input.description !== undefined && input.description !== issue.description) {
      changes['description'] = { previous: issue.description, current: input.description };
      issue.description = input.description;
    }
    if (input.labels !== undefined) {
      const labels = this.ensureLabels(project, input.labels);
      if (JSON.stringify(labels) !== JSON.stringify(issue.labels)) changes['labels'] = { previous: issue.labels, current: labels };
      issue.labels = labels;
    }
    let action: 'update' | 'close' | 'reopen' = 'update';
    if (input.stateEvent === 'close' && issue.state === 'opened') {
      changes['state_id'] = { previous: 1, current: 2 };
      issue.state = 'closed';
      issue.closedAt = now;
      action = 'close';
    } else if (input.stateEvent === 'reopen' && issue.state === 'closed') {
      changes['state_id'] = { previous: 2, current: 1 };
      issue.state = 'opened';
      issue.closedAt = null;
      action = 'reopen';
    }
    if (Object.keys(changes).length === 0) return issue;
    changes['updated_at'] = { previous: hookTime(issue.updatedAt), current: hookTime(now) };
    if (issue.updatedById !== user.id) changes['updated_by_id'] = { previous: issue.updatedById, current: user.id };
    issue.updatedAt = now;
    issue.updatedById = user.id;
    this.opts.emit({ kind: 'issue', project, issue, actor: user, action, changes });
    return issue;
  }

  findIssue(project: Project, iid: string | number): Issue {
    const issue = project.issues.find((i) => i.iid === Number(iid));
    if (!issue) throw notFound();
    return issue;
  }
}
