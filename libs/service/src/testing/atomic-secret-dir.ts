// A secret volume the way Kubernetes' kubelet writes one (pkg/volume/util/atomic_writer.go): every
// version in its own `..<timestamp>` directory, `..data` a symlink to the current one, each visible
// file a symlink `<name> -> ..data/<name>`. An update writes a new version directory, points
// `..data_tmp` at it and renames that over `..data` (one atomic rename), then removes the old
// version. Tests rotate secrets with it to prove a watcher follows what a real cluster does.
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';

export interface AtomicSecretDir {
  readonly dir: string;
  /** The path a process is configured with (`<dir>/<name>`). */
  path(name: string): string;
  /** Publishes a new version of every file at once, as kubelet does. */
  write(files: Record<string, string>): void;
}

let versions = 0;

/** A kubelet-style secret directory at `dir` (created), holding `files` at `mode` (default 0o600). */
export function atomicSecretDir(dir: string, files: Record<string, string>, mode = 0o600): AtomicSecretDir {
  mkdirSync(dir, { recursive: true });
  const write = (next: Record<string, string>): void => {
    const stamp = new Date().toISOString().replace(/[-:.TZ]/g, '_');
    const version = `..${stamp}${(versions++).toString().padStart(4, '0')}`;
    mkdirSync(join(dir, version), { mode: 0o755 });
    for (const [name, content] of Object.entries(next)) writeFileSync(join(dir, version, name), content, { mode });
    let old: string | undefined;
    try {
      old = readlinkSync(join(dir, '..data'));
    } catch {
      old = undefined;
    }
    symlinkSync(version, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    for (const name of Object.keys(next)) {
      try {
        lstatSync(join(dir, name));
      } catch {
        symlinkSync(join('..data', name), join(dir, name));
      }
    }
    if (old) rmSync(join(dir, old), { recursive: true, force: true });
  };
  write(files);
  return { dir, path: (name) => join(dir, name), write };
}
