// Strict durations for TTLs and review windows: `<int>(s|m|h|d)`, compound in d-h-m-s order (`1h30m`).
import { InvalidDuration } from './errors';
import { MAX_TTL_SECONDS } from './event-fields';

const UNIT_SECONDS = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;
// Each unit at most once, largest first; up to 7 digits per part keeps the arithmetic exact.
const DURATION_RE = /^(?:(\d{1,7})d)?(?:(\d{1,7})h)?(?:(\d{1,7})m)?(?:(\d{1,7})s)?$/;

/** Longest duration accepted: 30 days. */
export const MAX_DURATION_SECONDS = MAX_TTL_SECONDS;

export type DurationResult = { ok: true; seconds: number } | { ok: false; message: string };

/** Parse without throwing; `message` says what is wrong (never longer than 200 chars). */
export function tryParseDuration(input: unknown): DurationResult {
  if (typeof input !== 'string') {
    return { ok: false, message: `expected a duration string like 30m, got ${input === null ? 'null' : typeof input}` };
  }
  const shown = input.length > 32 ? `${JSON.stringify(input.slice(0, 32))}…` : JSON.stringify(input);
  const m = input === '' ? null : DURATION_RE.exec(input);
  if (!m) {
    return {
      ok: false,
      message: `${shown} is not a duration; use whole numbers with units s, m, h, d in that order of size, e.g. 30m, 2h, 1h30m`,
    };
  }
  const [, d, h, min, s] = m;
  const seconds = Number(d ?? 0) * UNIT_SECONDS.d + Number(h ?? 0) * UNIT_SECONDS.h + Number(min ?? 0) * UNIT_SECONDS.m + Number(s ?? 0);
  if (seconds <= 0) return { ok: false, message: `${shown} is zero; a duration must be positive` };
  if (seconds > MAX_DURATION_SECONDS) return { ok: false, message: `${shown} is longer than the 30d maximum` };
  return { ok: true, seconds };
}

/** `'30m'` -> 1800. Throws JIT_ERR_CONTRACTS_INVALID_DURATION. */
export function parseDuration(input: string): number {
  const r = tryParseDuration(input);
  if (!r.ok) throw InvalidDuration(r.message);
  return r.seconds;
}

/** 5400 -> `'1h30m'`; the canonical form parseDuration accepts. */
export function formatDuration(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw InvalidDuration(`${seconds} seconds is not a positive integer`);
  let rest = seconds;
  let out = '';
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
