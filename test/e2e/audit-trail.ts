// The README's SIEM section on the log of a real run: `jit events` exports it (CloudEvents and
// OCSF), `jit audit verify` finds it intact, and finds an export with an event deleted, two events
// swapped, an event edited, a key not trusted, or broken lines not intact, naming where.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { expect } from 'vitest';
import { loadOcsfSchemas } from '@jit/audit/testing';
import { generateSigningKeyPem, createEventSigner } from '@jit/contracts';
import { runCli } from '../../apps/jit/src/cli/program';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** `busDir`: the stopped all-in-one's JIT_DATA_DIR/bus; `keysJson`: its GET /v1/keys answer. */
export async function checkAuditTrail(busDir: string, keysJson: string, workDir: string): Promise<void> {
  const keys = join(workDir, 'keys.json');
  await writeFile(keys, keysJson);
  const exported = await cli(['events', '--bus-dir', busDir]);
  expect(exported.err).toBe('');
  expect(exported.code).toBe(0);
  const lines = exported.out.split('\n').filter(Boolean);
  const events = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { type: string; data: Record<string, unknown> });
  const at = (type: string) => events.findIndex((e) => e.type === `dev.jit.elevation.${type}.v1`);
  expect(at('granted')).toBeGreaterThan(at('approved'));
  // every event of the elevation after its first links to the one before
  expect(events.filter((e) => e.type !== 'dev.jit.elevation.requested.v1' && typeof e['elevationid'] === 'string').every((e) => typeof e['jitprev'] === 'string')).toBe(true);

  const verify = async (name: string, text: string, ...extra: string[]) => {
    const file = join(workDir, name);
    await writeFile(file, text);
    return cli(['audit', 'verify', file, '--keys', keys, ...extra]);
  };
  const join_ = (ls: string[]) => `${ls.join('\n')}\n`;

  const intact = await verify('intact.jsonl', join_(lines));
  expect(intact.out).toMatch(/^intact: \d+ events/);
  expect(intact.code).toBe(0);
  const elevation = String(events[at('granted')]!['elevationid']);
  expect((await verify('intact.jsonl', join_(lines), '--elevation', elevation)).code).toBe(0);

  // a deleted approval: the grant's chain no longer reaches it
  const deleted = await verify('deleted.jsonl', join_(lines.filter((_, i) => i !== at('approved'))));
  expect(deleted.code).toBe(2);
  expect(deleted.out).toMatch(/NOT INTACT: line \d+: missing_event: .*elevation\.granted/);

  // approved and granted swapped
  const swapped = [...lines];
  [swapped[at('approved')], swapped[at('granted')]] = [swapped[at('granted')]!, swapped[at('approved')]!];
  const reordered = await verify('reordered.jsonl', join_(swapped));
  expect(reordered.code).toBe(2);
  expect(reordered.out).toMatch(/NOT INTACT: line \d+: reordered/);

  // a later expiry written into the grant
  const edited = [...lines];
  const granted = events[at('granted')]!;
  edited[at('granted')] = JSON.stringify({ ...granted, data: { ...granted.data, expiresAt: '2099-01-01T00:00:00.000Z' } });
  const altered = await verify('edited.jsonl', join_(edited));
  expect(altered.code).toBe(2);
  expect(altered.out).toMatch(new RegExp(`NOT INTACT: line ${at('granted') + 1}: bad_signature`));

  // the same export against a key that is not jit's
  const stranger = join(workDir, 'stranger.json');
  await writeFile(stranger, JSON.stringify({ keys: [{ x: createEventSigner(generateSigningKeyPem()).publicKey.x, roles: ['gate', 'issuer', 'revoker'] }] }));
  const untrusted = await cli(['audit', 'verify', join(workDir, 'intact.jsonl'), '--keys', stranger]);
  expect(untrusted.code).toBe(2);
  expect(untrusted.out).toMatch(/untrusted_key/);

  // a truncated line, a huge line and a non-object line: named by number, the rest still read
  const broken = [...lines];
  broken.splice(1, 0, lines[1]!.slice(0, 40), `"${'x'.repeat(5 * 1024 * 1024)}"`, '[1,2,3]');
  const bad = await verify('broken.jsonl', join_(broken));
  expect(bad.code).toBe(2);
  expect(bad.out).toMatch(/NOT INTACT: line 2: malformed: line 2 is not a JSON object \(cut short or not JSON\)/);
  expect(bad.out).toMatch(/line 3: malformed: line 3 is longer than/);
  expect(bad.out).not.toMatch(/missing_event|reordered/);

  // OCSF: every mapped event valid against the pinned OCSF schema
  const ocsf = await cli(['events', '--bus-dir', busDir, '--format', 'ocsf']);
  expect(ocsf.code).toBe(0);
  const schemas = loadOcsfSchemas();
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, validateFormats: false });
  const byClass = new Map([
    [3005, ajv.compile(schemas.classSchema('user_access'))],
    [2004, ajv.compile(schemas.classSchema('detection_finding'))],
    [0, ajv.compile(schemas.classSchema('base_event'))],
  ]);
  const mapped = ocsf.out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(mapped).toHaveLength(lines.length);
  for (const m of mapped) {
    const validate = byClass.get(m['class_uid'] as number)!;
    expect(validate(m), JSON.stringify(validate.errors)).toBe(true);
  }
  expect(mapped.find((m) => m['type_uid'] === 300501)).toMatchObject({ user: { name: expect.any(String) }, privileges: [expect.stringMatching(/:/)] });
  expect(mapped.some((m) => m['type_uid'] === 300502)).toBe(true);
}
