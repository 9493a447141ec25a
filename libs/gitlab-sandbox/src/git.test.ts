// Commit ids must be what real git computes for the same content, parents, author and time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectStore } from './git';

const FILES: Record<string, string> = {
  'policy.yaml': 'tiers: {}\n',
  'a.b': 'sorts before the a/ directory in git\n',
  'a/z.txt': 'z\n',
  'a/b/c.yaml': 'deep\n',
  'elevations/orders-db.yaml': 'spec:\n  target: orders-db\n',
  // Byte order differs from UTF-16 order for these: git sorts bytes.
  'ünïcode/é.txt': 'accents\n',
  '\u{1F600}.txt': 'astral plane\n',
  '\uFF21.txt': 'fullwidth A\n',
};

function gitCommitIds(files: Record<string, string>[], time: number): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'sbx-git-'));
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'Dave Developer',
    GIT_AUTHOR_EMAIL: 'dave@example.com',
    GIT_COMMITTER_NAME: 'Dave Developer',
    GIT_COMMITTER_EMAIL: 'dave@example.com',
    GIT_AUTHOR_DATE: `${time} +0000`,
    GIT_COMMITTER_DATE: `${time} +0000`,
    GIT_CONFIG_NOSYSTEM: '1',
    HOME: dir,
  };
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env, encoding: 'utf8' }).trim();
  git('init', '-q');
  const ids: string[] = [];
  for (const [i, snapshot] of files.entries()) {
    git('rm', '-rq', '--cached', '--ignore-unmatch', '.');
    for (const [path, content] of Object.entries(snapshot)) {
      mkdirSync(join(dir, dirname(path)), { recursive: true });
      writeFileSync(join(dir, path), content);
      git('add', path);
    }
    git('commit', '-q', '--allow-empty', '--no-gpg-sign', '--cleanup=verbatim', '-m', `commit ${i}\n`);
    ids.push(git('rev-parse', 'HEAD'));
  }
  return ids;
}

describe('ObjectStore', () => {
  it('computes the same blob, tree and commit ids as git, across nested trees and a parent chain', () => {
    const time = 1_764_000_000;
    const second = { ...FILES, 'a/b/c.yaml': 'changed\n', 'new.txt': 'n\n' };
    const expected = gitCommitIds([FILES, second], time);
    const store = new ObjectStore();
    const sig = { name: 'Dave Developer', email: 'dave@example.com', time };
    const tree = (files: Record<string, string>) => new Map(Object.entries(files).map(([p, c]) => [p, store.putBlob(c)]));
    const c0 = store.writeCommit({ files: tree(FILES), parents: [], author: sig, message: 'commit 0\n' });
    const c1 = store.writeCommit({ files: tree(second), parents: [c0.id], author: sig, message: 'commit 1\n' });
    expect([c0.id, c1.id]).toEqual(expected);
  });

  it('finds merge bases and the commits between two heads', () => {
    const store = new ObjectStore();
    const sig = { name: 'x', email: 'x@example.com', time: 1 };
    const base = store.writeCommit({ files: new Map(), parents: [], author: sig, message: 'base' });
    const left = store.writeCommit({ files: new Map([['l', store.putBlob('l')]]), parents: [base.id], author: sig, message: 'left' });
    const right = store.writeCommit({ files: new Map([['r', store.putBlob('r')]]), parents: [base.id], author: sig, message: 'right' });
    expect(store.mergeBase(left.id, right.id)).toBe(base.id);
    expect(store.commitsBetween(base.id, left.id).map((c) => c.id)).toEqual([left.id]);
    expect(store.findCommit(left.id.slice(0, 8))?.id).toBe(left.id);
    expect(store.findCommit('zzzzzzz')).toBeUndefined();
  });
});
