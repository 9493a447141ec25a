// Parser of the request file `elevations/<anything>.yaml` (contract: DESIGN.md §3). Structural checks
// only; whether target, scope, tier and TTL are allowed is libs/policy's job.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ageRecipientSchema } from './event-fields';
import { tryParseDuration } from './duration';
import type { Problem } from './problem';
import { REQUEST_YAML_LIMITS, loadYaml, type LoadedYaml, type YamlLimits } from './yaml-load';
import { zodProblems } from './zod-problems';

export const REQUEST_API_VERSION = 'jit/v1';
export const REQUEST_KIND = 'ElevationRequest';
export const MIN_JUSTIFICATION_CHARS = 20;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const nameS = z.string().regex(NAME_RE, 'must be a name of letters, digits, . _ - (max 63 characters)');
const durationS = z.string().superRefine((s, ctx) => {
  const r = tryParseDuration(s);
  if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message });
});

const requestSchema = z.strictObject({
  apiVersion: z.literal(REQUEST_API_VERSION, { error: `must be ${REQUEST_API_VERSION}` }),
  kind: z.literal(REQUEST_KIND, { error: `must be ${REQUEST_KIND}` }),
  spec: z.strictObject({
    target: nameS,
    scope: nameS,
    ttl: durationS,
    riskTier: nameS,
    justification: z
      .string()
      .max(4000, 'must be at most 4000 characters')
      .refine((s) => s.trim().length >= MIN_JUSTIFICATION_CHARS, {
        message: `must be at least ${MIN_JUSTIFICATION_CHARS} characters: say what you will change and why`,
      }),
    rollbackPlan: z.string().trim().min(1, 'must not be empty when given').max(4000).optional(),
    recipient: ageRecipientSchema,
    breakGlass: z.boolean().optional(),
  }),
});

/** A structurally valid elevation request. */
export interface ElevationRequest {
  apiVersion: typeof REQUEST_API_VERSION;
  kind: typeof REQUEST_KIND;
  spec: {
    target: string;
    scope: string;
    /** As written, e.g. `30m`. */
    ttl: string;
    ttlSeconds: number;
    riskTier: string;
    justification: string;
    rollbackPlan?: string;
    recipient: string;
    breakGlass: boolean;
  };
}

/** `locate(path)`: line/column of any field, for problems found later (e.g. by policy checks). */
export type ParseRequestResult =
  { ok: true; request: ElevationRequest; problems: []; locate: LoadedYaml['locate'] } | { ok: false; problems: Problem[]; value?: unknown; locate?: LoadedYaml['locate'] };

/** Parse a request file. Every problem at once, each with field path and line/column. Never throws. */
export function parseElevationRequest(text: string, limits: YamlLimits = REQUEST_YAML_LIMITS): ParseRequestResult {
  const loaded = loadYaml(text, limits);
  if (!loaded.ok) return { ok: false, problems: loaded.problems };
  const parsed = requestSchema.safeParse(loaded.loaded.value);
  const { value, locate } = loaded.loaded;
  if (!parsed.success) return { ok: false, problems: zodProblems(parsed.error.issues, loaded.loaded), value, locate };
  const { spec } = parsed.data;
  const ttlSeconds = tryParseDuration(spec.ttl);
  if (!ttlSeconds.ok) return { ok: false, problems: [{ path: 'spec.ttl', message: ttlSeconds.message }] };
  return {
    ok: true,
    problems: [],
    locate,
    request: {
      apiVersion: REQUEST_API_VERSION,
      kind: REQUEST_KIND,
      spec: {
        target: spec.target,
        scope: spec.scope,
        ttl: spec.ttl,
        ttlSeconds: ttlSeconds.seconds,
        riskTier: spec.riskTier,
        justification: spec.justification,
        ...(spec.rollbackPlan !== undefined ? { rollbackPlan: spec.rollbackPlan } : {}),
        recipient: spec.recipient,
        breakGlass: spec.breakGlass ?? false,
      },
    },
  };
}

/** sha256 hex of the file bytes: the `contentHash` carried by requested/approved events. */
export function contentHash(bytes: string | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
