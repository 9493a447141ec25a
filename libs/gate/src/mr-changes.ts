// What an MR changes, as the gate classifies it (GitLab's diffs): the request file(s), deleted or
// renamed requests, policy.yaml, anything else — and the rule that an elevation MR changes exactly
// one request file and nothing more, a policy MR only policy.yaml.
import type { GitlabClient } from '@jit/gitlab';
import type { PolicyProblem } from '@jit/policy';
import type { MrRef } from './gate-context';

export interface MrChanges {
  requestPaths: string[];
  deletedRequests: string[];
  policy: boolean;
  others: string[];
}

/** Where the gate looks: the policy file's path and the request folder (with its trailing slash). */
export interface RepoLayout {
  policyPath: string;
  requestDir: string;
}

export async function mrChanges(gitlab: Pick<GitlabClient, 'mergeRequests'>, layout: RepoLayout, ref: MrRef): Promise<MrChanges> {
  const diffs = await gitlab.mergeRequests.diffs(ref.projectId, ref.mrIid);
  const out: MrChanges = { requestPaths: [], deletedRequests: [], policy: false, others: [] };
  const paths = new Set<string>();
  for (const d of diffs) {
    for (const p of new Set([d.oldPath, d.newPath])) {
      if (!p || paths.has(p)) continue;
      paths.add(p);
      if (p === layout.policyPath) out.policy = true;
      else if (p.startsWith(layout.requestDir)) {
        if (d.deletedFile || (d.renamedFile && p === d.oldPath)) out.deletedRequests.push(p);
        else out.requestPaths.push(p);
      } else out.others.push(p);
    }
  }
  return out;
}

/** A policy MR: policy.yaml and nothing else. */
export function isPolicyOnly(c: MrChanges): boolean {
  return c.policy && c.requestPaths.length === 0 && c.deletedRequests.length === 0 && c.others.length === 0;
}

/** Every path but policy.yaml. */
export function nonPolicyPaths(c: MrChanges): string[] {
  return [...c.requestPaths, ...c.deletedRequests, ...c.others];
}

export function structureProblems(c: MrChanges, layout: RepoLayout): PolicyProblem[] {
  const at = '(merge request)';
  const { policyPath, requestDir } = layout;
  if (c.policy && (c.requestPaths.length > 0 || c.deletedRequests.length > 0 || c.others.length > 0)) {
    return [
      {
        path: at,
        message: `this MR changes ${policyPath} and other files (${nonPolicyPaths(c).slice(0, 10).join(', ')}); a policy change must be its own MR, approved by the policyApprovers — split it`,
      },
    ];
  }
  const problems: PolicyProblem[] = [];
  if (c.others.length > 0) {
    problems.push({ path: at, message: `only files under ${requestDir} may change; this MR also changes: ${c.others.slice(0, 10).join(', ')}` });
  }
  if (c.deletedRequests.length > 0) {
    problems.push({ path: at, message: `requests are never deleted or renamed by an elevation MR: ${c.deletedRequests.slice(0, 10).join(', ')}` });
  }
  if (c.requestPaths.length !== 1) {
    problems.push({
      path: at,
      message:
        c.requestPaths.length === 0
          ? `no request file: add exactly one file under ${requestDir}`
          : `exactly one request per MR: this MR changes ${c.requestPaths.length} files under ${requestDir} (${c.requestPaths.slice(0, 10).join(', ')})`,
    });
  } else if (!/\.ya?ml$/.test(c.requestPaths[0]!)) {
    problems.push({ path: at, message: `the request file must be ${requestDir}<name>.yaml; got ${c.requestPaths[0]}` });
  }
  return problems;
}
