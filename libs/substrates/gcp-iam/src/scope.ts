// The gcp-iam scope grammar: which service account to impersonate, with which OAuth scopes,
// optionally through a delegation chain. validateScope never throws; it returns Problems.
import { z } from 'zod';
import type { Problem } from '@jit/substrates';

/**
 * Service-account emails: `<name>@<project>.iam.gserviceaccount.com` and Google's other SA domains
 * (`<project>@appspot.gserviceaccount.com`, `<n>-compute@developer.gserviceaccount.com`,
 * `service-<n>@gcp-sa-<x>.iam.gserviceaccount.com`).
 */
const SA_EMAIL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?@[a-z0-9](?:[a-z0-9.-]{0,100}[a-z0-9])?\.gserviceaccount\.com$/;
/** OAuth 2.0 scopes Google accepts: its API URLs, plus the three OpenID Connect short names. */
const OAUTH_SCOPE_RE = /^(https:\/\/www\.googleapis\.com\/auth\/[a-z0-9][a-z0-9._/-]{0,127}|openid|email|profile)$/;

export function isServiceAccountEmail(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 254 && SA_EMAIL_RE.test(s);
}

const email = z.string().max(254).refine(isServiceAccountEmail, { message: 'must be a service-account email such as name@project.iam.gserviceaccount.com' });

export const gcpIamScopeSchema = z.strictObject({
  /** policy.yaml's own key on every scope; ignored here (the policy lib owns it). */
  tier: z.string().max(64).optional(),
  serviceAccount: email,
  scopes: z
    .array(z.string().max(200).regex(OAUTH_SCOPE_RE, 'must be https://www.googleapis.com/auth/<scope>, openid, email or profile'))
    .min(1, 'at least one OAuth scope is required')
    .max(20)
    .refine((a) => new Set(a).size === a.length, 'scopes must not repeat'),
  delegates: z.array(email).max(10).optional(),
});
export type GcpIamScope = z.infer<typeof gcpIamScopeSchema>;

const clip = (s: string): string => (s.length > 300 ? `${s.slice(0, 300)}…` : s);

export function validateGcpIamScope(input: unknown): Problem[] {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return [{ path: '', message: 'scope must be an object { serviceAccount, scopes, delegates? }' }];
  }
  const parsed = gcpIamScopeSchema.safeParse(input);
  if (parsed.success) return [];
  return parsed.error.issues.slice(0, 20).map((i) => ({ path: clip(i.path.map(String).join('.')), message: clip(i.message) }));
}

/** `projects/-/serviceAccounts/<email>`: the resource name form the API requires (the `-` is mandatory). */
export function serviceAccountResource(emailOrId: string): string {
  return `projects/-/serviceAccounts/${emailOrId}`;
}
