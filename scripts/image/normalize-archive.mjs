#!/usr/bin/env node
// Makes a docker-archive from `buildah push` reproducible: the docker image format (kept for its
// HEALTHCHECK, which the OCI format drops) records the random id and hostname of the build container.
// Clears them, renames the config after its new digest (the image id), drops the legacy v1 entries
// and re-packs the archive with fixed order, owners and times. Prints the image id.
//   node scripts/image/normalize-archive.mjs <archive.tar>
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const archive = process.argv[2];
const dir = mkdtempSync(join(dirname(archive), '.normalize-'));
try {
  execFileSync('tar', ['-xf', archive, '-C', dir]);
  const [entry, ...more] = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  if (!entry || more.length) throw new Error(`${archive}: expected one image`);
  const config = JSON.parse(readFileSync(join(dir, entry.Config), 'utf8'));
  delete config.container;
  for (const c of [config.config, config.container_config]) if (c) c.Hostname = '';
  const bytes = Buffer.from(JSON.stringify(config));
  const id = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(dir, `${id}.json`), bytes);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: `${id}.json`, RepoTags: entry.RepoTags, Layers: entry.Layers }]));
  const files = ['manifest.json', `${id}.json`, ...entry.Layers];
  const tmp = `${archive}.tmp`;
  execFileSync('tar', [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '-cf',
    tmp,
    '-C',
    dir,
    ...files,
  ]);
  renameSync(tmp, archive);
  process.stdout.write(`sha256:${id}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
