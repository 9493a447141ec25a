// The Helm chart (deploy/helm/jit) must say what the code says: the ports each process listens on,
// the drain it needs on SIGTERM, the README's path-to-process table, the alert rules and a schema
// that knows every value. Rendering and the chart's own unit tests run in scripts/helm/test.sh.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '..', '..', '..');
const chart = join(root, 'deploy', 'helm', 'jit');
const read = (...p: string[]) => readFileSync(join(root, ...p), 'utf8');
const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Record<string, any>;

// A public key of the right shape (JWK x): the configs check the trusted keys' form.
const X = 'DrVX0aiad0HGdyENadee970LdoZYStRDIJcmumTFO3Y';

/** Each chart component, its values section and the smallest environment its config accepts. */
const APPS = [
  { component: 'webhook-ingest', section: 'webhookIngest', env: { KAFKA_BROKERS: 'kafka:9092', JIT_WEBHOOK_SECRET: 'a-webhook-secret-value' } },
  { component: 'approval-gate', section: 'approvalGate', env: {} },
  { component: 'issuer', section: 'issuer', env: {} },
  { component: 'revoker', section: 'revoker', env: {} },
  // no public port: values.yaml has no `notifier.port` and its config none
  { component: 'notifier', section: 'notifier', env: {} },
  { component: 'jit', section: 'embedded', env: {} },
] as const;

interface AppConfig {
  port: number;
  ops: { port: number };
}

/**
 * The app's own parseConfig, loaded by path at run time: apps are not libraries (module
 * boundaries), but what the chart deploys must match what they parse.
 */
async function appConfig(component: string, env: Record<string, string>): Promise<AppConfig> {
  const mod = (await import(pathToFileURL(join(root, 'apps', component, 'src', 'config.ts')).href)) as { parseConfig(env: Record<string, string>): AppConfig };
  return mod.parseConfig(env);
}

describe('ports: values.yaml carries each app’s own defaults', () => {
  // the first import of an app's config compiles its whole dependency graph: seconds on a busy machine
  it.for(APPS)('$component listens on the ports values.yaml gives it ($section, opsPort)', { timeout: 90_000 }, async ({ component, section, env }) => {
    const dir = mkdtempSync(join(tmpdir(), 'jit-chart-'));
    const keyFile = join(dir, 'signing-key.pem');
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const full: Record<string, string> = {
      KAFKA_BROKERS: 'kafka:9092',
      GITLAB_URL: 'https://gitlab.example.com',
      GITLAB_TOKEN: 'glpat-example-token',
      JIT_ELEVATIONS_PROJECT: 'ops/elevations',
      JIT_SIGNING_KEY_FILE: keyFile,
      JIT_TRUSTED_GATE_KEYS: X,
      JIT_TRUSTED_ISSUER_KEYS: X,
      JIT_TRUSTED_REVOKER_KEYS: X,
      JIT_SUBSTRATES: '{"postgres":{}}',
      JIT_DATA_DIR: dir,
      ...env,
    };
    if (component === 'jit') for (const k of ['KAFKA_BROKERS', 'GITLAB_URL', 'GITLAB_TOKEN', 'JIT_ELEVATIONS_PROJECT', 'JIT_SUBSTRATES']) delete full[k];
    const config = await appConfig(component, full);
    expect(values[section].port).toBe(config.port);
    expect(values['opsPort']).toBe(config.ops.port);
  });
});

describe('shutdown: Kubernetes waits longer than the slowest drain', () => {
  it('terminationGracePeriodSeconds exceeds preStop sleep + every app’s stopTimeoutMs', () => {
    const runService = read('libs', 'service', 'src', 'run-service.ts');
    const fallback = /def\.stopTimeoutMs \?\? ([\d_]+)/.exec(runService)?.[1];
    expect(fallback, 'runService’s default stop timeout').toBeDefined();
    const drains = ['webhook-ingest', 'approval-gate', 'issuer', 'revoker', 'notifier'].map((app) => {
      const main = read('apps', app, 'src', 'main.ts');
      expect(main).toContain('runService(');
      return Number((/stopTimeoutMs: ([\d_]+)/.exec(main)?.[1] ?? fallback!).replaceAll('_', '')) / 1000;
    });
    const slowest = Math.max(...drains);
    expect(slowest).toBeGreaterThanOrEqual(20);
    expect(values['terminationGracePeriodSeconds']).toBeGreaterThan(values['preStopSleepSeconds'] + slowest);
    // the schema's floor keeps a user's override above the drain too
    const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8'));
    expect(schema.properties.terminationGracePeriodSeconds.minimum).toBeGreaterThan(slowest);
  });
});

describe('routes: the Ingress and HTTPRoute carry the README’s path-to-process table', () => {
  const routes = (parse(readFileSync(join(chart, 'files', 'routes.yaml'), 'utf8')) as { routes: { path: string; pathType: 'Exact' | 'Prefix'; component: string }[] }).routes;
  const section = read('README.md').split('One host name for users, GitLab and the CLI')[1]!;
  const rows = section
    .split('\n')
    .filter((l) => /^\s*\| `(GET|POST) \//.test(l))
    .map((l) => {
      const [paths, process] = l
        .split('|')
        .slice(1, 3)
        .map((c) => c.trim());
      return { paths: [...paths!.matchAll(/`(?:GET|POST) ([^`]+)`/g)].map((m) => m[1]!), process: process! };
    });

  const routeOf = (path: string) => routes.find((r) => (r.pathType === 'Exact' ? path === r.path : path === r.path || path.startsWith(`${r.path}/`)));

  it('the README table has rows', () => expect(rows.length).toBeGreaterThanOrEqual(4));
  it('every README path is routed to its process', () => {
    for (const { paths, process } of rows) for (const p of paths) expect({ path: p, to: routeOf(p)?.component }).toEqual({ path: p, to: process });
  });
  it('every route stands for a row of the README', () => {
    const documented = rows.flatMap((r) => r.paths);
    for (const r of routes)
      expect(
        documented.some((p) => routeOf(p) === r),
        r.path,
      ).toBe(true);
  });
  it('no route exposes the ops endpoints', () => {
    for (const p of ['/healthz', '/readyz', '/metrics']) expect(routeOf(p)).toBeUndefined();
  });
});

describe('alerts: the PrometheusRule is deploy/prometheus/jit-alerts.yaml', () => {
  it('the chart’s copy is byte-for-byte the shipped rule file', () => {
    expect(readFileSync(join(chart, 'files', 'jit-alerts.yaml'), 'utf8')).toBe(read('deploy', 'prometheus', 'jit-alerts.yaml'));
  });
});

describe('values.schema.json knows exactly the keys of values.yaml', () => {
  const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8'));
  // objects the chart defines (additionalProperties: false) must list the same keys as values.yaml
  const walk = (node: any, value: any, at: string, out: string[]) => {
    if (node?.type !== 'object' || node.additionalProperties !== false) return;
    const declared = Object.keys(node.properties ?? {}).filter((k) => k !== 'global');
    const present = Object.keys(value ?? {});
    for (const k of declared) if (!present.includes(k)) out.push(`${at}.${k} is in the schema but not in values.yaml (undocumented)`);
    for (const k of present) if (!declared.includes(k)) out.push(`${at}.${k} is in values.yaml but not in the schema`);
    for (const k of declared) walk(node.properties[k], value?.[k], `${at}.${k}`, out);
  };
  it('every defined object lists the same keys in both', () => {
    const problems: string[] = [];
    walk(schema, values, 'values', problems);
    expect(problems).toEqual([]);
  });
  it('refuses unknown keys at the top and in every section the chart defines', () => {
    expect(schema.additionalProperties).toBe(false);
    for (const [k, v] of Object.entries<any>(schema.properties)) {
      if (v.type === 'object' && v.properties) expect(v.additionalProperties, k).toBe(false);
    }
  });
});

describe('the chart’s realistic values files', () => {
  it('exist for distributed SASL_SSL, distributed HTTPRoute and embedded', () => {
    expect(readdirSync(join(chart, 'ci')).sort()).toEqual(['distributed-httproute-values.yaml', 'distributed-sasl-ssl-values.yaml', 'embedded-values.yaml']);
  });
});

describe('the image: the chart runs it as it is built (Containerfile, deploy/image/README.md)', () => {
  const containerfile = read('Containerfile');
  const helpers = readFileSync(join(chart, 'templates', '_helpers.tpl'), 'utf8');

  it('as the image’s own non-root user', () => {
    const [uid, gid] = (/^USER (\d+):(\d+)$/m.exec(containerfile) ?? []).slice(1).map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(values['podSecurityContext']).toMatchObject({ runAsUser: uid, runAsGroup: gid, fsGroup: gid, runAsNonRoot: true });
  });

  it('with JIT_DATA_DIR where the image expects it', () => {
    const imageDataDir = /JIT_DATA_DIR=(\S+)/.exec(containerfile)?.[1];
    expect(imageDataDir).toBeDefined();
    expect(helpers).toContain(`{ name: JIT_DATA_DIR, value: ${imageDataDir} }`);
    expect(helpers).toContain(`{ name: data, mountPath: ${imageDataDir} }`);
  });

  it('passing `serve <mode>` to the jit CLI entrypoint, for modes jit serve knows', { timeout: 90_000 }, async () => {
    expect(/^ENTRYPOINT \[.*"\/app\/dist\/apps\/jit\/jit\.js"\]$/m.test(containerfile)).toBe(true);
    const { SERVE_MODES } = (await import(pathToFileURL(join(root, 'apps', 'jit', 'src', 'serve.ts')).href)) as { SERVE_MODES: readonly string[] };
    const used = [...helpers.matchAll(/serve: ([a-z-]+),/g)].map((m) => m[1]);
    expect(used.sort()).toEqual([...SERVE_MODES].sort());
  });
});
