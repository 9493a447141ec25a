// Real targets for the distributed suite: a fresh PostgreSQL database behind OpenBao's database
// secrets engine (configured over Vault's HTTP API, as an operator would), and an IAM role on moto.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import type { SeedInput } from '@jit/gitlab-sandbox';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { POSTGRES_REVOCATION_STATEMENTS, carrierPolicyHcl, tokenRoleSettings } from '@jit/substrate-vault';
import { uniqueName } from '@jit/testing';

export interface VaultDatabaseFixture {
  /** Database mount of this suite (unique). */
  mount: string;
  /** Database secrets engine role that grants the write. */
  role: string;
  carrierPolicy: string;
  /** Token role jit issues through (orphan, allows the carrier policy). */
  tokenRole: string;
  /** Where the requester logs in, without credentials. */
  loginUrl: string;
  /** Admin URL of the fresh database (test-side checks only). */
  adminUrl: string;
}

async function vaultWrite(addr: string, token: string, path: string, body: unknown, method = 'POST'): Promise<void> {
  const res = await fetch(`${addr}/v1/${path}`, {
    method,
    headers: { 'x-vault-token': token, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`vault ${method} ${path} answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
}

/** A fresh database with an `orders` table the default (read-only) world cannot write. */
export async function createOrdersDatabase(pgAdminUrl: string): Promise<string> {
  const name = uniqueName('e2e_dist').replace(/-/g, '_');
  const admin = new pg.Client({ connectionString: pgAdminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(pgAdminUrl);
  url.pathname = `/${name}`;
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  try {
    await db.query('CREATE TABLE public.orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric NOT NULL)');
    await db.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
    await db.query('GRANT USAGE ON SCHEMA public TO PUBLIC');
  } finally {
    await db.end();
  }
  return url.toString();
}

/**
 * Mounts the database secrets engine, points a postgresql-database-plugin connection at the
 * database, and defines a role whose logins may INSERT into orders. Revocation ends sessions too.
 */
export async function setupVaultDatabase(vault: { addr: string; token: string }, dbAdminUrl: string): Promise<VaultDatabaseFixture> {
  const db = new URL(dbAdminUrl);
  const mount = uniqueName('e2e-db');
  const role = uniqueName('orders_rw').replace(/-/g, '_');
  const carrierPolicy = `jit-database-creds-${mount}`;
  await vaultWrite(vault.addr, vault.token, `sys/mounts/${mount}`, { type: 'database' });
  await vaultWrite(vault.addr, vault.token, `${mount}/config/orders`, {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@${db.host}${db.pathname}`,
    username: decodeURIComponent(db.username),
    password: decodeURIComponent(db.password),
    allowed_roles: [role],
  });
  await vaultWrite(vault.addr, vault.token, `${mount}/roles/${role}`, {
    db_name: 'orders',
    creation_statements: [
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`,
      `GRANT SELECT, INSERT ON public.orders TO "{{name}}"`,
      `GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{{name}}"`,
    ],
    revocation_statements: [...POSTGRES_REVOCATION_STATEMENTS],
    default_ttl: '1h',
    max_ttl: '2h',
  });
  await vaultWrite(vault.addr, vault.token, `sys/policies/acl/${carrierPolicy}`, { policy: carrierPolicyHcl(mount) });
  const tokenRole = `jit-${mount}`;
  await vaultWrite(vault.addr, vault.token, `auth/token/roles/${tokenRole}`, tokenRoleSettings([carrierPolicy]));
  return { mount, role, carrierPolicy, tokenRole, loginUrl: `postgresql://${db.host}${db.pathname}`, adminUrl: dbAdminUrl };
}

/** Unmounts the engine (Vault revokes its leases, dropping their DB roles) and deletes the carrier policy. */
export async function removeVaultDatabase(vault: { addr: string; token: string }, f: VaultDatabaseFixture): Promise<void> {
  await vaultWrite(vault.addr, vault.token, `sys/mounts/${f.mount}`, undefined, 'DELETE');
  await vaultWrite(vault.addr, vault.token, `sys/policies/acl/${f.carrierPolicy}`, undefined, 'DELETE');
  await vaultWrite(vault.addr, vault.token, `auth/token/roles/${f.tokenRole}`, undefined, 'DELETE');
}

/** Drops a database made by createOrdersDatabase, ending its sessions. */
export async function dropDatabase(pgAdminUrl: string, dbUrl: string): Promise<void> {
  const name = new URL(dbUrl).pathname.slice(1);
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`refusing to drop database ${JSON.stringify(name)}`);
  const admin = new pg.Client({ connectionString: pgAdminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export const AWS_REGION = 'us-east-1';
/** moto accepts any keys; these are the issuer's/revoker's own identity there. */
export const AWS_ADMIN = { accessKeyId: 'jit-e2e-admin', secretAccessKey: 'jit-e2e-admin-secret-key' };

/** An IAM role on moto that jit's identity may assume (with SourceIdentity). */
export async function createStsRole(endpoint: string): Promise<{ arn: string; name: string; id: string }> {
  const iam = new IAMClient({ region: AWS_REGION, endpoint, credentials: { ...AWS_ADMIN } });
  try {
    const name = uniqueName('jit-e2e-role');
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }],
    });
    const out = await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust, MaxSessionDuration: 3600 }));
    return { arn: out.Role!.Arn!, name, id: out.Role!.RoleId! };
  } finally {
    iam.destroy();
  }
}

/** Tries an INSERT with a login; the error message when refused. */
export async function tryInsert(url: string): Promise<{ ok: true } | { ok: false; error: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query(`INSERT INTO public.orders (customer, total) VALUES ('acme', 42)`);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** deploy/sandbox/demo-seed.yaml (people, groups, project settings) with `policy` as the project's policy.yaml. */
export async function demoSeed(policy: string, project = 'ops/elevations'): Promise<SeedInput> {
  const root = join(import.meta.dirname, '..', '..', '..');
  const seed = parseYaml(await readFile(join(root, 'deploy/sandbox/demo-seed.yaml'), 'utf8')) as { projects: Array<Record<string, unknown>> };
  const p = seed.projects.find((x) => x['path'] === project);
  if (!p) throw new Error(`deploy/sandbox/demo-seed.yaml has no project ${project}`);
  p['files'] = { 'policy.yaml': policy };
  delete p['files_from'];
  return seed as unknown as SeedInput;
}
