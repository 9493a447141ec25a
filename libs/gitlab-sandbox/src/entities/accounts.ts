// REST v4 response shapes (GitLab's API::Entities) of users, groups, members and projects.
import { createHash } from 'node:crypto';
import type { Group, Project, User } from '../model';
import type { SandboxState } from '../state';

type Json = Record<string, unknown>;

export const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function avatarUrl(user: User): string {
  const hash = createHash('sha256').update(user.email.toLowerCase()).digest('hex');
  return `https://www.gravatar.com/avatar/${hash}?s=80&d=identicon`;
}

export function userBasic(s: SandboxState, user: User): Json {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    state: user.state,
    locked: false,
    avatar_url: avatarUrl(user),
    web_url: `${s.instanceUrl}/${user.username}`,
  };
}

export function userFull(s: SandboxState, user: User, self: boolean): Json {
  const out: Json = {
    ...userBasic(s, user),
    created_at: iso(user.createdAt),
    bio: '',
    location: '',
    public_email: null,
    linkedin: '',
    twitter: '',
    website_url: '',
    organization: '',
    job_title: '',
    bot: user.bot,
  };
  if (self) {
    // API::Entities::UserPublic (GET /user): a sandbox user never signed in through a browser; its
    // sign-in and confirmation times are its creation, with GitLab's defaults for the rest.
    const created = iso(user.createdAt);
    Object.assign(out, {
      skype: '',
      discord: '',
      last_sign_in_at: created,
      confirmed_at: created,
      last_activity_on: created!.slice(0, 10),
      email: user.email,
      theme_id: 1,
      color_scheme_id: 1,
      projects_limit: 100000,
      current_sign_in_at: created,
      identities: [],
      can_create_group: true,
      can_create_project: true,
      two_factor_enabled: false,
      external: false,
      private_profile: false,
      commit_email: user.email,
      is_admin: user.admin,
    });
  }
  return out;
}

export function groupEntity(s: SandboxState, g: Group): Json {
  return {
    id: g.id,
    name: g.name,
    path: g.path,
    full_path: g.fullPath,
    full_name: s
      .groupAncestry(g)
      .reverse()
      .map((x) => x.name)
      .join(' / '),
    description: '',
    visibility: 'private',
    web_url: `${s.instanceUrl}/groups/${g.fullPath}`,
    parent_id: g.parentId,
    created_at: iso(g.createdAt),
  };
}

export function memberEntity(s: SandboxState, user: User, level: number): Json {
  return { ...userBasic(s, user), access_level: level, created_at: iso(user.createdAt), expires_at: null, membership_state: 'active' };
}

export function projectEntity(s: SandboxState, p: Project): Json {
  const ns = s.namespaceOf(p);
  const web = `${s.instanceUrl}/${p.pathWithNamespace}`;
  const host = new URL(s.instanceUrl).host;
  return {
    id: p.id,
    description: p.description,
    name: p.name,
    name_with_namespace: `${s
      .groupAncestry(ns)
      .reverse()
      .map((x) => x.name)
      .join(' / ')} / ${p.name}`,
    path: p.path,
    path_with_namespace: p.pathWithNamespace,
    created_at: iso(p.createdAt),
    default_branch: p.defaultBranch,
    tag_list: [],
    topics: [],
    ssh_url_to_repo: `git@${host}:${p.pathWithNamespace}.git`,
    http_url_to_repo: `${web}.git`,
    web_url: web,
    readme_url: null,
    avatar_url: null,
    forks_count: 0,
    star_count: 0,
    last_activity_at: iso(p.createdAt),
    namespace: {
      id: ns.id,
      name: ns.name,
      path: ns.path,
      kind: 'group',
      full_path: ns.fullPath,
      parent_id: ns.parentId,
      avatar_url: null,
      web_url: `${s.instanceUrl}/groups/${ns.fullPath}`,
    },
    visibility: p.visibility,
    archived: false,
    empty_repo: false,
    merge_method: 'merge',
    only_allow_merge_if_pipeline_succeeds: false,
    only_allow_merge_if_all_discussions_are_resolved: false,
    remove_source_branch_after_merge: true,
    approvals_before_merge: p.tier === 'premium' ? p.approvalSettings.approvals_before_merge : 0,
    merge_requests_enabled: true,
    issues_enabled: true,
  };
}
