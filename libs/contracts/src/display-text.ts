// The one sanitiser for text that came from someone else (a request file, an event, a server's
// answer) and is about to be shown: in a GitLab comment, on a terminal, in a log a person reads.
// It removes what can forge structure or hide text — carriage returns and other C0/C1 controls
// (terminal escape sequences start with ESC or CSI), DEL, line/paragraph separators, bidi
// overrides and isolates, zero-width and other format characters (Unicode Cc, Cf, Zl, Zp) — and
// replaces lone surrogates. markdownText/markdownCode then escape for GitLab markdown (MR
// comments of the gate and the revoker); the CLI's CSV escaping stays with the CLI.

/** Characters that end a line somewhere (a terminal, CommonMark, a JavaScript renderer). */
const BREAKS = /[\n\r\v\f\u0085\u2028\u2029]+/g;
/** Everything else that is a control or an invisible format character. Tab is kept only where lines are kept. */
const CONTROLS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const CONTROLS_BUT_NEWLINE_AND_TAB = /(?![\n\t])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

function wellFormed(text: string): string {
  // lone surrogates (from JSON such as "\ud800") break renderers and length limits
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** Cuts at `max` code points (never inside a surrogate pair), marking the cut with an ellipsis. */
function cut(text: string, max: number): string {
  const points = Array.from(text);
  return points.length > max ? `${points.slice(0, Math.max(0, max - 1)).join('')}…` : text;
}

/**
 * One line of plain display text: every line break (CR, LF, U+2028, U+2029, NEL, VT, FF) becomes
 * one space, tabs become a space, every other control or format character is removed; at most
 * `max` code points. Non-strings are shown with String().
 */
export function displayText(text: unknown, max = 500): string {
  const s = wellFormed(typeof text === 'string' ? text : String(text ?? ''));
  return cut(s.replace(BREAKS, ' ').replace(/\t/g, ' ').replace(CONTROLS, ''), max);
}

/**
 * Text for a terminal that keeps its own line structure: LF and tab stay, CR and the other line
 * separators become LF (so nothing overwrites a line), every other control or format character
 * (escape sequences' ESC/CSI, bidi controls) is removed. For output composed by jit itself; a
 * value from elsewhere goes through displayText first so it cannot add lines.
 */
export function terminalText(text: string): string {
  return wellFormed(text)
    .replace(/\r\n?|[\v\f\u0085\u2028\u2029]/g, '\n')
    .replace(CONTROLS_BUT_NEWLINE_AND_TAB, '');
}

/**
 * JSON for a terminal or a pipe: the same value, with every control, format or separator character
 * written as a \u escape (JSON.stringify leaves DEL, C1, bidi controls and U+2028/9 raw).
 */
export function displayJson(value: unknown, space?: number): string {
  const text = JSON.stringify(value, null, space) ?? 'null';
  return wellFormed(text).replace(/(?![\n ])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''));
}

/**
 * Text from elsewhere inside a GitLab markdown comment, inert: displayText (one line), then every
 * markdown/HTML/GitLab-reference character backslash-escaped (mentions, links, headings, entities,
 * math, emphasis, tables), and what could open a block or a quick action at the start of a line.
 */
export function markdownText(text: unknown, max = 500): string {
  return displayText(text, max)
    .trim()
    .replace(/[\\`*_{}[\]()#|<>@!~&$]/g, (c) => `\\${c}`)
    .replace(/^([-+=/])/, '\\$1')
    .replace(/^(\d+)([.)])/, '$1\\$2');
}

/** A name or path from elsewhere as a markdown code span: one line, backticks and table pipes removed. */
export function markdownCode(text: unknown, max = 200): string {
  return `\`${displayText(text, max).replace(/[`|]/g, '')}\``;
}
