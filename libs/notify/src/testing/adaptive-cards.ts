// Checks a Teams workflow-webhook message: the `message` envelope with one Adaptive Card
// attachment, and the card against the vendored Adaptive Cards 1.5.0 JSON schema (see
// vendor/SOURCE.md), plus Teams' 28 KB message limit.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import draft6 from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };

let validator: ValidateFunction | undefined;

function cardValidator(): ValidateFunction {
  if (validator) return validator;
  const { id, ...schema } = JSON.parse(readFileSync(new URL('./vendor/adaptive-card-1.5.0.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  ajv.addMetaSchema(draft6);
  validator = ajv.compile({ ...schema, $id: String(id) });
  return validator;
}

/** Teams refuses messages over 28 KB. */
export const TEAMS_MAX_MESSAGE_BYTES = 28 * 1024;

export function validateTeamsMessage(body: unknown): string[] {
  const problems: string[] = [];
  const b = body as { type?: unknown; attachments?: unknown };
  if (Buffer.byteLength(JSON.stringify(body)) > TEAMS_MAX_MESSAGE_BYTES) problems.push(`message over ${TEAMS_MAX_MESSAGE_BYTES} bytes`);
  if (b?.type !== 'message') problems.push('type must be "message"');
  if (!Array.isArray(b?.attachments) || b.attachments.length !== 1) return [...problems, 'attachments must hold one card'];
  const a = b.attachments[0] as { contentType?: unknown; content?: unknown };
  if (a.contentType !== 'application/vnd.microsoft.card.adaptive') problems.push('contentType must be application/vnd.microsoft.card.adaptive');
  const card = a.content as { type?: unknown; version?: unknown };
  if (card?.type !== 'AdaptiveCard' || typeof card.version !== 'string') problems.push('content must be an AdaptiveCard with a version');
  const v = cardValidator();
  if (!v(card)) problems.push(...(v.errors ?? []).slice(0, 10).map((e) => `card${e.instancePath} ${e.message ?? ''}`));
  return problems;
}
