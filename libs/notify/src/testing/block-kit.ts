// Checks a Slack incoming-webhook message against Block Kit's documented block types and limits
// (https://api.slack.com/reference/block-kit/blocks, .../composition-objects): the blocks this
// notifier may use, their fields and lengths. Anything else is reported.
type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

function textObject(t: unknown, path: string, max: number, kinds: string[], problems: string[]): void {
  if (!isRec(t)) return void problems.push(`${path}: a text object is required`);
  if (!kinds.includes(t['type'] as string)) problems.push(`${path}.type must be ${kinds.join(' or ')}`);
  if (typeof t['text'] !== 'string' || t['text'].length < 1) problems.push(`${path}.text must be a non-empty string`);
  else if (t['text'].length > max) problems.push(`${path}.text is ${t['text'].length} characters (max ${max})`);
  for (const k of Object.keys(t)) if (!['type', 'text', 'emoji', 'verbatim'].includes(k)) problems.push(`${path}.${k} is not a text object field`);
  if (t['type'] === 'mrkdwn' && 'emoji' in t) problems.push(`${path}.emoji is only for plain_text`);
}

const only = (b: Rec, path: string, allowed: string[], problems: string[]) => {
  for (const k of Object.keys(b)) if (!allowed.includes(k)) problems.push(`${path}.${k} is not a field of a ${String(b['type'])} block`);
};

export function validateSlackMessage(body: unknown): string[] {
  const problems: string[] = [];
  if (!isRec(body)) return ['the message must be a JSON object'];
  for (const k of Object.keys(body)) if (!['text', 'blocks', 'thread_ts', 'mrkdwn', 'unfurl_links', 'unfurl_media'].includes(k)) problems.push(`${k} is not a field of an incoming-webhook message`);
  if (typeof body['text'] !== 'string' || body['text'].length === 0) problems.push('text (the notification fallback) is required with blocks');
  else if (body['text'].length > 40_000) problems.push('text is over 40000 characters');
  const blocks = body['blocks'];
  if (!Array.isArray(blocks)) return [...problems, 'blocks must be an array'];
  if (blocks.length > 50) problems.push(`${blocks.length} blocks (max 50)`);
  blocks.forEach((b: unknown, i) => {
    const p = `blocks[${i}]`;
    if (!isRec(b)) return void problems.push(`${p} must be an object`);
    if (b['block_id'] !== undefined && (typeof b['block_id'] !== 'string' || b['block_id'].length > 255)) problems.push(`${p}.block_id max 255`);
    switch (b['type']) {
      case 'header':
        only(b, p, ['type', 'text', 'block_id'], problems);
        textObject(b['text'], `${p}.text`, 150, ['plain_text'], problems);
        break;
      case 'section': {
        only(b, p, ['type', 'text', 'fields', 'block_id', 'accessory', 'expand'], problems);
        if (b['text'] === undefined && b['fields'] === undefined) problems.push(`${p} needs text or fields`);
        if (b['text'] !== undefined) textObject(b['text'], `${p}.text`, 3000, ['plain_text', 'mrkdwn'], problems);
        if (b['fields'] !== undefined) {
          if (!Array.isArray(b['fields']) || b['fields'].length > 10 || b['fields'].length === 0) problems.push(`${p}.fields must hold 1 to 10 text objects`);
          else b['fields'].forEach((f: unknown, j) => textObject(f, `${p}.fields[${j}]`, 2000, ['plain_text', 'mrkdwn'], problems));
        }
        break;
      }
      case 'context': {
        only(b, p, ['type', 'elements', 'block_id'], problems);
        const els = b['elements'];
        if (!Array.isArray(els) || els.length === 0 || els.length > 10) problems.push(`${p}.elements must hold 1 to 10 elements`);
        else els.forEach((e: unknown, j) => textObject(e, `${p}.elements[${j}]`, 3000, ['plain_text', 'mrkdwn'], problems));
        break;
      }
      case 'divider':
        only(b, p, ['type', 'block_id'], problems);
        break;
      default:
        problems.push(`${p}.type ${String(b['type'])} is not a block this message may use (header, section, context, divider)`);
    }
  });
  return problems;
}
