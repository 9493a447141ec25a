// The dashboard (/ui) in a real headless Chromium (Debian's `chromium`, driven by playwright-core)
// against the all-in-one in sandbox mode: sign-in through the sandbox's OAuth 2 flow (code + PKCE),
// each role sees what the read API's role table lets it see, the CSP holds (no violation on any
// page, an injected inline script is blocked), a hostile justification is text, and the sign-in
// refuses an open redirect, a forged state, a replayed or stale code, a fixed session and a
// forged sign-out. Screenshots go to tmp/dashboard-screenshots/.
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGitlabClient } from '@jit/gitlab';
import { createLogger } from '@jit/observability';
import { policyBlobSha } from '@jit/policy';
import { freePort, waitFor } from '@jit/testing';
import { runCli } from './cli/program';
import { parseConfig } from './config';
import { buildJit, type JitProcess } from './server';

const CHROMIUM = process.env['JIT_CHROMIUM'] ?? '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'tmp', 'dashboard-screenshots');
const PAT = { alice: 'alice-token-0001', bob: 'bob-token-00001', carol: 'carol-token-0001', dave: 'dave-token-00001', agent: 'deploy-agent-token' };
const HOSTILE = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2"> **APPROVED by security** [x](javascript:alert(1)) INC-4411 backfill`;

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

describe('dashboard in a real browser (all-in-one, sandbox mode)', () => {
  let jit: JitProcess;
  let url: string;
  let browser: Browser;
  let pendingId: string;
  const violations: string[] = [];
  const logLines: string[] = [];

  /** A fresh browser profile that records every CSP violation Chromium reports. */
  const newContext = async (): Promise<BrowserContext> => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ctx.on('console', (m) => {
      if (/Content[ -]Security[ -]Policy/i.test(m.text())) violations.push(m.text());
    });
    cleanup.push(() => ctx.close());
    return ctx;
  };
  /** Through the sandbox's authorize page, as `username`; ends wherever jit sends the browser. */
  const signIn = async (page: Page, username: string, start = `${url}/ui/waiting`): Promise<void> => {
    await page.goto(start);
    await page.getByRole('link', { name: 'Sign in with GitLab' }).click();
    await page.getByLabel('Username').fill(username);
    await page.getByRole('button', { name: 'Authorize' }).click();
    await page.waitForLoadState('load');
  };
  const sessionCookie = async (ctx: BrowserContext) => (await ctx.cookies(url)).find((c) => c.name === 'jit_session');
  let home: string;
  const stateOf = async (id: string) => ((await (await fetch(`${url}/v1/elevations/${id}`, { headers: { authorization: `Bearer ${PAT.carol}` } })).json()) as { state?: string }).state;
  /** deploy-agent's `jit request` (as the CLI does it), waited for until the gate says pending. */
  const request = async (ttl: string, justification: string): Promise<{ elevationId: string; mrIid: number }> => {
    const lines: string[] = [];
    const code = await runCli(
      [
        '--json',
        '--url',
        url,
        'request',
        '--target',
        'demo-db',
        '--scope',
        'write',
        '--ttl',
        ttl,
        '--tier',
        'reversible-write',
        '--identity',
        jit.sandboxIdentities['deploy-agent']!,
        '--justification',
        justification,
      ],
      { out: (l) => lines.push(l), err: (l) => lines.push(l), env: { HOME: home, GITLAB_URL: jit.sandbox!.url, GITLAB_TOKEN: PAT.agent, JIT_ELEVATIONS_PROJECT: jit.gitlab.project } },
    );
    expect(code, lines.join('\n')).toBe(0);
    const requested = JSON.parse(lines.join('\n')) as { elevationId: string; mrIid: number };
    await waitFor(async () => (await stateOf(requested.elevationId)) === 'pending', { timeoutMs: 30_000, what: 'the elevation to be pending' });
    return requested;
  };
  /** Reloads until `locator` finds something (the pages are rendered per request). */
  const reloadUntil = async (page: Page, selector: string, what: string) =>
    waitFor(
      async () => {
        await page.reload();
        return (await page.locator(selector).count()) > 0;
      },
      { timeoutMs: 60_000, intervalMs: 500, what },
    );

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set JIT_CHROMIUM)`);
    mkdirSync(SHOTS, { recursive: true });
    const dir = await mkdtemp(join(tmpdir(), 'jit-dashboard-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const config = parseConfig({ JIT_DATA_DIR: dir, JIT_PORT: String(port), JIT_OPS_PORT: '0', JIT_SANDBOX_PORT: String(await freePort()), JIT_SWEEP_INTERVAL_MS: '0' });
    jit = await buildJit(config, { env: {}, logger: createLogger({ name: 'jit', level: 'debug', destination: { write: (s: string) => void logLines.push(s) } }) });
    cleanup.push(() => jit.close());
    url = await jit.listen();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    cleanup.push(() => browser.close());

    home = dir;
    // deploy-agent asks for write on the demo database (reversible-write: platform approves) with a hostile justification
    pendingId = (await request('30m', HOSTILE)).elevationId;
  }, 180_000);

  it('an eligible approver signs in with GitLab and sees the request waiting, its justification as text', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => void (dialogs.push(d.message()), d.dismiss()));
    await signIn(page, 'carol');
    expect(new URL(page.url()).pathname).toBe('/ui/waiting');
    await expect.poll(() => page.getByTestId('username').textContent()).toBe('carol');
    const row = page.locator(`section[aria-labelledby="for-me"] tr[data-elevation="${pendingId}"]`);
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.locator('td.justification').textContent()).toBe(HOSTILE);
    expect(await row.locator('td.justification img, td.justification script').count()).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    expect(dialogs).toEqual([]);
    // the cookie: HttpOnly, SameSite=Lax, no token in it or anywhere the page's script can read
    const cookie = await sessionCookie(ctx);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(await page.content()).not.toMatch(/[0-9a-f]{64}/);
    await page.screenshot({ path: join(SHOTS, 'waiting-carol.png'), fullPage: true });
    await page.setViewportSize({ width: 375, height: 800 });
    await page.screenshot({ path: join(SHOTS, 'waiting-carol-phone.png'), fullPage: true });
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1')).toBe(true);
  });

  it('someone with no role on the request sees nothing of it', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await signIn(page, 'dave');
    await expect.poll(() => page.getByTestId('username').textContent()).toBe('dave');
    expect(await page.content()).not.toContain(pendingId);
    expect(await page.locator('tr[data-elevation]').count()).toBe(0);
  });

  it('no session or a forged one gets the sign-in page, never data', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await page.goto(`${url}/ui/waiting`);
    expect(new URL(page.url()).pathname).toBe('/ui/sign-in');
    await ctx.addCookies([{ name: 'jit_session', value: 'A'.repeat(43), url }]);
    await page.goto(`${url}/ui/waiting`);
    expect(new URL(page.url()).pathname).toBe('/ui/sign-in');
    expect(await page.content()).not.toContain(pendingId);
  });

  it('the CSP blocks an inline script injected into a page, and reports it', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await signIn(page, 'carol');
    const before = violations.length;
    const ran = await page.evaluate(`(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.appendChild(s);
      return window.__inline;
    })()`);
    expect(ran).toBeUndefined();
    await expect.poll(() => violations.length).toBeGreaterThan(before);
    violations.length = before;
    // Chromium posts the violation to the page's report endpoint, which logs it (no session needed, no cookie logged)
    await expect.poll(() => logLines.some((l) => l.includes('CSP violation reported by a browser') && l.includes('script-src')), { timeout: 10_000 }).toBe(true);
  });

  it('sign-in refuses to return anywhere but the dashboard (open redirect through the return path)', async () => {
    for (const target of ['https://evil.example/', '//evil.example/ui/', '/ui/../../evil', '/\\evil.example', '/ui/auth/logout']) {
      const ctx = await newContext();
      const page = await ctx.newPage();
      await page.goto(`${url}/ui/auth/login?return=${encodeURIComponent(target)}`);
      await page.getByLabel('Username').fill('carol');
      await page.getByRole('button', { name: 'Authorize' }).click();
      await page.waitForLoadState('load');
      const landed = new URL(page.url());
      expect(landed.origin, target).toBe(url);
      expect(landed.pathname, target).toBe('/ui/waiting');
    }
  });

  it('a callback with another state, a replayed callback and a stale code are refused', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    // the URL GitLab sends the browser back to (a redirect: seen as a request, not routable)
    let callback: string | undefined;
    page.on('request', (r) => {
      if (r.url().startsWith(`${url}/ui/auth/callback`)) callback ??= r.url();
    });
    await signIn(page, 'carol');
    expect(callback).toBeDefined();
    expect(new URL(page.url()).pathname).toBe('/ui/waiting');
    // replayed in the same browser: the sign-in it belonged to is spent
    const again = await ctx.newPage();
    const r1 = await again.goto(callback!);
    expect(r1!.status()).toBe(400);
    expect(await again.content()).toContain('JIT_ERR_UI_SIGN_IN_REFUSED');

    // a new sign-in in another browser, finished with the old (spent) code and the new state
    const ctx2 = await newContext();
    const p2 = await ctx2.newPage();
    await p2.goto(`${url}/ui/auth/login`);
    const freshState = new URL(p2.url()).searchParams.get('state')!;
    const stale = new URL(callback!);
    stale.searchParams.set('state', freshState);
    const r2 = await p2.goto(stale.toString());
    expect(r2!.status()).toBe(400);
    expect(await p2.content()).toContain('JIT_ERR_UI_SIGN_IN_REFUSED');
    expect(await sessionCookie(ctx2)).toBeUndefined();

    // the state of one sign-in with the code of another (login CSRF): refused, the code unused
    const ctx3 = await newContext();
    const p3 = await ctx3.newPage();
    await p3.goto(`${url}/ui/auth/login`);
    const forged = new URL(callback!);
    forged.searchParams.set('state', 'not-the-state-this-browser-was-given');
    const r3 = await p3.goto(forged.toString());
    expect(r3!.status()).toBe(400);
    expect(await sessionCookie(ctx3)).toBeUndefined();
  });

  it('a session id planted before sign-in is never the signed-in one (session fixation)', async () => {
    const planted = 'B'.repeat(43);
    const ctx = await newContext();
    await ctx.addCookies([{ name: 'jit_session', value: planted, url }]);
    const page = await ctx.newPage();
    await signIn(page, 'carol');
    const cookie = await sessionCookie(ctx);
    expect(cookie?.value).toBeDefined();
    expect(cookie!.value).not.toBe(planted);
    const attacker = await newContext();
    await attacker.addCookies([{ name: 'jit_session', value: planted, url }]);
    const ap = await attacker.newPage();
    await ap.goto(`${url}/ui/waiting`);
    expect(new URL(ap.url()).pathname).toBe('/ui/sign-in');
  });

  it('sign-out needs the page’s anti-forgery token; after it the session and its GitLab token are gone', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await signIn(page, 'carol');
    const sid = (await sessionCookie(ctx))!.value;
    // a cross-site form post carries the Lax cookie on no POST; even with the cookie and no token: refused
    const forged = await fetch(`${url}/ui/auth/logout`, {
      method: 'POST',
      headers: { cookie: `jit_session=${sid}`, 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: 'csrf=x',
      redirect: 'manual',
    });
    expect(forged.status).toBe(403);
    const noToken = await fetch(`${url}/ui/auth/logout`, {
      method: 'POST',
      headers: { cookie: `jit_session=${sid}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
      redirect: 'manual',
    });
    expect(noToken.status).toBe(403);
    await page.reload();
    expect(new URL(page.url()).pathname).toBe('/ui/waiting');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForLoadState('load');
    expect(new URL(page.url()).pathname).toBe('/ui/sign-in');
    const after = await fetch(`${url}/ui/waiting`, { headers: { cookie: `jit_session=${sid}` }, redirect: 'manual' });
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toMatch(/^\/ui\/sign-in/);
  });

  it('the lifecycle on the dashboard: waiting → live with a ticking countdown that reaches zero → history with a verified receipt', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await signIn(page, 'carol');
    const r = await request('20s', 'backfill order totals after INC-4411 (dashboard lifecycle)');
    const row = `tr[data-elevation="${r.elevationId}"]`;
    await reloadUntil(page, `section[aria-labelledby="for-me"] ${row}`, 'the request on Waiting for me');
    const as = (token: string) => createGitlabClient({ url: jit.sandbox!.url, token });
    for (const t of [PAT.alice, PAT.bob]) await as(t).mergeRequests.approve(jit.gitlab.projectId, r.mrIid);
    await as(PAT.alice).mergeRequests.merge(jit.gitlab.projectId, r.mrIid);

    await page.getByRole('link', { name: 'Live grants' }).click();
    await reloadUntil(page, row, 'the grant on Live grants');
    const timer = page.locator(`${row} [data-countdown]`);
    const first = await timer.textContent();
    expect(first).toMatch(/^\d{1,2}s left$/);
    // the page's script ticks it, no navigation in between
    await expect.poll(() => timer.textContent(), { timeout: 5_000 }).not.toBe(first);
    await page.screenshot({ path: join(SHOTS, 'live-carol.png'), fullPage: true });
    await expect.poll(() => timer.textContent(), { timeout: 40_000, interval: 500 }).toBe('expired');

    await waitFor(async () => (await stateOf(r.elevationId)) === 'revoked', { timeoutMs: 60_000, what: 'the revoker to revoke at TTL' });
    await page.goto(`${url}/ui/history?state=revoked`);
    expect(await page.locator(`${row} td[data-label="Receipt"]`).textContent()).toMatch(/^verified/);
    await page.screenshot({ path: join(SHOTS, 'history-carol.png'), fullPage: true });
    await page.locator(row).getByRole('link', { name: r.elevationId }).click();
    expect(await page.locator('ol.timeline').textContent()).toMatch(/elevation\.approved[\s\S]*elevation\.granted[\s\S]*elevation\.revoked/);
    const csv = await page.request.get(`${url}/ui/history.csv?state=revoked`);
    expect(csv.status()).toBe(200);
    expect(csv.headers()['content-type']).toMatch(/^text\/csv/);
    expect(await csv.text()).toContain(`${r.elevationId},revoked,deploy-agent,demo-db,write`);
    await page.goto(`${url}/ui/health`);
    expect(await page.locator('main').textContent()).toMatch(/merge → granted/);

    // someone with no role sees none of it, and its page is the same 404 as an unknown id
    const dctx = await newContext();
    const dpage = await dctx.newPage();
    await signIn(dpage, 'dave');
    for (const path of ['/ui/live', '/ui/history', '/ui/health']) {
      await dpage.goto(`${url}${path}`);
      expect(await dpage.content(), path).not.toContain(r.elevationId);
    }
    const hidden = await dpage.goto(`${url}/ui/elevations/${r.elevationId}`);
    const unknown = await dpage.goto(`${url}/ui/elevations/gl-${jit.gitlab.projectId}-99999`);
    expect(hidden!.status()).toBe(404);
    expect(unknown!.status()).toBe(404);
    const dcsv = await dpage.request.get(`${url}/ui/history.csv`);
    expect(await dcsv.text()).not.toContain(r.elevationId);
  });

  it('an auditor the ratified policy names sees every elevation, and Health shows who ratified that policy', async () => {
    const sandbox = jit.sandbox!;
    const projectId = jit.gitlab.projectId;
    const as = (token: string) => createGitlabClient({ url: sandbox.url, token });
    // erin: in security (the auditors group), not in platform: she may approve nothing here
    sandbox.addUser({ username: 'erin', name: 'Erin Auditor', token: 'erin-token-00001' });
    sandbox.addGroupMember('security', 'erin');
    const seeded = new TextDecoder().decode((await as(PAT.carol).files.show(projectId, 'policy.yaml', 'main')).content);
    const withAuditors = `${seeded.trimEnd()}\nauditors: { groups: [security] }\n`;
    await as(PAT.carol).branches.create(projectId, 'name-auditors', 'main');
    await as(PAT.carol).commits.create(projectId, 'name-auditors', 'name the security group as auditors', [{ action: 'update', filePath: 'policy.yaml', content: withAuditors }]);
    const mr = (await as(PAT.carol).mergeRequests.create(projectId, { sourceBranch: 'name-auditors', targetBranch: 'main', title: 'policy: auditors' })).iid;
    await waitFor(async () => (await as(PAT.alice).notes.all(projectId, mr)).some((n) => n.body.includes('policy change')), { timeoutMs: 30_000, what: "the gate's policy-change comment" });
    for (const t of [PAT.alice, PAT.bob]) await as(t).mergeRequests.approve(projectId, mr);
    await as(PAT.alice).mergeRequests.merge(projectId, mr);
    const version = async () => ((await (await fetch(`${url}/v1/catalog`, { headers: { authorization: `Bearer ${PAT.carol}` } })).json()) as { version?: string }).version;
    await waitFor(async () => (await version()) === policyBlobSha(withAuditors), { timeoutMs: 30_000, what: 'the policy with auditors in force' });

    const ctx = await newContext();
    const page = await ctx.newPage();
    await signIn(page, 'erin', `${url}/ui/history`);
    expect(new URL(page.url()).pathname).toBe('/ui/history');
    const all = ((await (await fetch(`${url}/v1/elevations`, { headers: { authorization: `Bearer ${PAT.bob}` } })).json()) as { elevations: Array<{ id: string }> }).elevations.map((e) => e.id);
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const id of all) expect(await page.locator(`tr[data-elevation="${id}"]`).count(), id).toBe(1);
    await page.goto(`${url}/ui/waiting`);
    expect(await page.locator(`section[aria-labelledby="others"] tr[data-elevation="${pendingId}"]`).count()).toBe(1);
    await page.goto(`${url}/ui/health`);
    const health = (await page.locator('main').textContent()) ?? '';
    expect(health).toContain(policyBlobSha(withAuditors));
    expect(health).toMatch(/ratified by a policy MR \(!\d+\), approved by (alice, bob|bob, alice), merged by alice/);
    await page.screenshot({ path: join(SHOTS, 'health-erin.png'), fullPage: true });
  });

  it('every page answered with the strict CSP and no violation was reported', () => {
    expect(violations).toEqual([]);
  });

  it('no GitLab OAuth token, code or client secret is in jit’s log', () => {
    const log = logLines.join('');
    expect(log).toContain('dashboard sign-in');
    expect(log).not.toMatch(/access_token|code_verifier|client_secret|gloas-/);
    expect(log).not.toMatch(/[?&]code=/);
  });
});
