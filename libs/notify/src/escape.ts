// Text a requester wrote (a justification, a reason) made inert for each receiver's markup, and
// cut to its limits. Slack mrkdwn: `&`, `<`, `>` are the only escapes Slack defines, and escaping
// them already turns `<!here>`, `<!channel>`, `<@U…>` and `<https://evil|click>` into plain text;
// bare `@channel`/`@here`/`@everyone` get a word joiner after the `@` so no client takes them for
// a broadcast. Adaptive Cards TextBlock markdown (CommonMark subset): every punctuation character
// markdown gives meaning to is backslash-escaped, so `[click](https://evil)` or `**x**` render as
// typed; `<at>` mentions need an entity the card never carries.

const WORD_JOINER = '\u2060';
const BROADCAST = /@(?=(?:channel|here|everyone)\b)/gi;

/** Slack mrkdwn: plain text that renders as typed, notifies nobody and links nowhere. */
export function slackEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(BROADCAST, '@' + WORD_JOINER);
}

const MARKDOWN_SPECIALS = /[\\`*_{}[\]()#+\-.!|>~<]/g;

/** Adaptive Cards (Teams) TextBlock markdown: plain text that renders as typed. */
export function markdownEscape(text: string): string {
  return text.replace(MARKDOWN_SPECIALS, (c) => '\\' + c).replace(BROADCAST, '@' + WORD_JOINER);
}

/**
 * At most `max` UTF-16 units, cut on a code point boundary with `…` appended when cut; an escape
 * (`&amp;`, `\*`) is never split in two.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  // a lone high surrogate would be an invalid character
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  cut = cut.replace(/&[a-z]{0,4}$/, '');
  // an odd run of trailing backslashes would escape the ellipsis
  const slashes = /\\+$/.exec(cut)?.[0].length ?? 0;
  if (slashes % 2 === 1) cut = cut.slice(0, -1);
  return cut + '…';
}

/** Escapes, then cuts to the limit (the limit applies to the text as sent). */
export function slackText(text: string, max: number): string {
  return truncate(slackEscape(text), max);
}

export function teamsText(text: string, max: number): string {
  return truncate(markdownEscape(text), max);
}
