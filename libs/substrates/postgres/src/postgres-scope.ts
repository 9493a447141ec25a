// The postgres scope (`grant`: one GRANT text or a list, optional `connectionLimit`) parsed into the
// grants jit renders; its problems are what validateScope (and the gate, through the facts) reports.
import type { Problem } from '@jit/substrates';
import { parseGrant, type ParsedGrant } from './grant-grammar';

const MAX_GRANTS = 20;
const MAX_SCOPE_CONNECTIONS = 100;

export function grantsOf(scope: unknown): { grants: ParsedGrant[]; connectionLimit?: number; problems: Problem[] } {
  const problems: Problem[] = [];
  const grants: ParsedGrant[] = [];
  if (!scope || typeof scope !== 'object' || Array.isArray(scope)) {
    return { grants, problems: [{ path: 'scope', message: 'must be an object with a `grant` string, e.g. { grant: "SELECT ON ALL TABLES IN SCHEMA public" }' }] };
  }
  let connectionLimit: number | undefined;
  if (Object.prototype.hasOwnProperty.call(scope, 'connectionLimit')) {
    const n = (scope as { connectionLimit: unknown }).connectionLimit;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_SCOPE_CONNECTIONS) connectionLimit = n;
    else problems.push({ path: 'scope.connectionLimit', message: `must be a whole number from 1 to ${MAX_SCOPE_CONNECTIONS} (the issued role's CONNECTION LIMIT)` });
  }
  const raw = Object.prototype.hasOwnProperty.call(scope, 'grant') ? (scope as { grant: unknown }).grant : undefined;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (list.length === 0) problems.push({ path: 'scope.grant', message: 'is required: one GRANT text or a list of them' });
  if (list.length > MAX_GRANTS) problems.push({ path: 'scope.grant', message: `lists more than ${MAX_GRANTS} grants` });
  list.slice(0, MAX_GRANTS).forEach((text, i) => {
    const parsed = parseGrant(text);
    const path = Array.isArray(raw) ? `scope.grant[${i}]` : 'scope.grant';
    if (parsed.ok) grants.push(parsed.grant);
    else problems.push({ path, message: parsed.error });
  });
  return { grants, connectionLimit, problems };
}
