// A cheap guard against hostile webhook bodies: how deeply a JSON text nests, found without parsing.
/**
 * True when the JSON text opens more than `max` nested arrays/objects. Scanned without parsing, jumping
 * over string contents with indexOf (strings are most of a payload's bytes), so it costs little.
 */
export function jsonNestingExceeds(raw: Buffer, max: number): boolean {
  // Fast path: fewer than `max` opening brackets in all (strings included) cannot nest deeper.
  let openers = 0;
  for (const bracket of [0x7b, 0x5b]) {
    for (let i = raw.indexOf(bracket); i !== -1 && openers <= max; i = raw.indexOf(bracket, i + 1)) openers++;
  }
  if (openers <= max) return false;
  let depth = 0;
  const n = raw.length;
  for (let i = 0; i < n; i++) {
    const c = raw[i];
    if (c === 0x22) {
      // find the closing quote: one preceded by an even number of backslashes
      let j = i;
      for (;;) {
        j = raw.indexOf(0x22, j + 1);
        if (j < 0) return false; // unterminated string: JSON.parse rejects it
        let backslashes = 0;
        while (raw[j - 1 - backslashes] === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
