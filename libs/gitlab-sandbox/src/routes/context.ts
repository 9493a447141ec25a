// Shared route plumbing: authentication the way GitLab does it (PRIVATE-TOKEN header,
// Bearer token, private_token query), Grape-style parameter coercion, and page-based
// pagination with GitLab's headers (x-total, x-next-page, link, ...).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { paramError, unauthorized } from '../http-error';
import type { Delivery, User } from '../model';
import type { OAuthProvider } from '../oauth';
import type { SandboxState } from '../state';

export interface RouteContext {
  state: SandboxState;
  /** The webhook delivery log, for GitLab's webhook events API. */
  webhooks: { deliveries(hookId?: number): Delivery[]; resend(deliveryId: string): Delivery | undefined };
  /** OAuth applications, codes and access tokens (an OAuth token is a user's token too). */
  oauth: OAuthProvider;
}

export type Params = Record<string, unknown>;

/** Query string and body merged, as Grape does; `key[]` array keys folded into `key`. */
export function params(req: FastifyRequest): Params {
  const out: Params = {};
  const add = (source: unknown) => {
    if (!source || typeof source !== 'object' || Array.isArray(source)) return;
    for (const [k, v] of Object.entries(source as Record<string, unknown>)) {
      if (k.endsWith('[]')) {
        const key = k.slice(0, -2);
        out[key] = [...(Array.isArray(out[key]) ? (out[key] as unknown[]) : []), ...(Array.isArray(v) ? v : [v])];
      } else out[k] = v;
    }
  };
  add(req.query);
  add(req.body);
  return out;
}

export function optUser(ctx: RouteContext, req: FastifyRequest): User | undefined {
  const header = req.headers['private-token'];
  const auth = req.headers['authorization'];
  const query = (req.query as Record<string, unknown> | undefined)?.['private_token'];
  let token: string | undefined;
  if (typeof header === 'string' && header) token = header;
  else if (typeof auth === 'string' && /^Bearer\s+\S+$/i.test(auth)) token = auth.replace(/^Bearer\s+/i, '');
  else if (typeof query === 'string' && query) token = query;
  if (token === undefined) return undefined;
  const oauthUser = ctx.oauth.userIdOf(token);
  const user = oauthUser !== undefined ? ctx.state.userById(oauthUser) : ctx.state.userByToken(token);
  // A token that is present but wrong is a 401 even on endpoints anonymous users may read.
  if (!user || user.state !== 'active') throw unauthorized();
  return user;
}

export function needUser(ctx: RouteContext, req: FastifyRequest): User {
  const user = optUser(ctx, req);
  if (!user) throw unauthorized();
  return user;
}

export function str(p: Params, name: string, opts: { required?: boolean; max?: number } = {}): string | undefined {
  const v = p[name];
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw paramError(`${name} is missing`);
    return undefined;
  }
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw paramError(`${name} is invalid`);
  const s = String(v);
  if (opts.max !== undefined && s.length > opts.max) throw paramError(`${name} is too long`);
  return s;
}

export function int(p: Params, name: string, opts: { required?: boolean; min?: number } = {}): number | undefined {
  const v = p[name];
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw paramError(`${name} is missing`);
    return undefined;
  }
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || (opts.min !== undefined && n < opts.min)) throw paramError(`${name} is invalid`);
  return n;
}

export function bool(p: Params, name: string): boolean | undefined {
  const v = p[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (v === true || v === 'true' || v === '1' || v === 1) return true;
  if (v === false || v === 'false' || v === '0' || v === 0) return false;
  throw paramError(`${name} is invalid`);
}

export function intArray(p: Params, name: string): number[] | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  const arr = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',').filter((x) => x !== '') : [v];
  if (arr.length > 1000) throw paramError(`${name} is invalid`);
  return arr.map((x) => {
    const n = typeof x === 'number' ? x : typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : NaN;
    if (!Number.isSafeInteger(n)) throw paramError(`${name} is invalid`);
    return n;
  });
}

export function strArray(p: Params, name: string): string[] | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  const arr = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : null;
  if (!arr || arr.length > 1000 || arr.some((x) => typeof x !== 'string')) throw paramError(`${name} is invalid`);
  return (arr as string[]).map((x) => x.trim()).filter((x) => x !== '');
}

/** Page-based pagination: slice `items` and set GitLab's pagination headers. */
export function paginate<T>(req: FastifyRequest, reply: FastifyReply, items: T[]): T[] {
  const p = params(req);
  const page = int(p, 'page', { min: 1 }) ?? 1;
  const perPageRaw = int(p, 'per_page', { min: 1 }) ?? 20;
  const perPage = Math.min(perPageRaw, 100);
  const total = items.length;
  const totalPages = Math.max(1, Math.ceil(total / perPage));
  const base = new URL(req.url, `http://${req.headers.host ?? '127.0.0.1'}`);
  const link = (n: number) => {
    const u = new URL(base);
    u.searchParams.set('page', String(n));
    u.searchParams.set('per_page', String(perPage));
    return u.toString();
  };
  const links: string[] = [];
  if (page > 1) links.push(`<${link(page - 1)}>; rel="prev"`);
  if (page < totalPages) links.push(`<${link(page + 1)}>; rel="next"`);
  links.push(`<${link(1)}>; rel="first"`, `<${link(totalPages)}>; rel="last"`);
  reply.header('x-page', String(page));
  reply.header('x-per-page', String(perPage));
  reply.header('x-total', String(total));
  reply.header('x-total-pages', String(totalPages));
  reply.header('x-next-page', page < totalPages ? String(page + 1) : '');
  reply.header('x-prev-page', page > 1 ? String(page - 1) : '');
  reply.header('link', links.join(', '));
  return items.slice((page - 1) * perPage, page * perPage);
}
