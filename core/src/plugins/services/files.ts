// ctx.files: the one folder a plugin with the files capability may write in
// (plugins.files.dirs.<name>, else <root>/<name>, root defaulting to
// <dataDir>/files). Names are relative paths with "/"; nothing resolves
// outside the folder: no "..", no absolute path, no NUL, and no symlink on
// the way (every folder on the path is checked with lstat and realpath, the
// file itself is opened with O_NOFOLLOW). Operations on one file run one
// after another, so concurrent appends never interleave or lose a rotation.
import { constants } from 'node:fs';
import {
  link,
  lstat,
  mkdir,
  open,
  readdir,
  realpath,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { ResolvedConfig } from '../../generated/config-resolved.js';
import { PluginError, type FileStat, type FilesCall, type RotateOptions } from '../engine.js';

/** Longest name accepted (bytes of the relative path). */
const MAX_NAME = 1024;
/** Files kept at most by rotation (name, name.1 … name.99). */
const MAX_KEEP = 100;

/** The folder of plugin `name` under the operator's plugins.files. */
export function pluginFilesDir(
  cfg: ResolvedConfig['plugins']['files'],
  dataDir: string,
  name: string,
): string {
  return resolve(cfg.dirs[name] ?? join(cfg.root ?? join(dataDir, 'files'), name));
}

type ErrorCode = ConstructorParameters<typeof PluginError>[0];

/** write(name, data, {exclusive: true}) on a name that exists: code EEXIST, for the plugin to test. */
export class FileExists extends Error {
  readonly code = 'EEXIST';
}

/** What an I/O error means for the plugin: its own mistake, or the host's folder failing now. */
function ioCode(err: unknown): ErrorCode {
  const code = (err as { code?: unknown } | null)?.code;
  // A full disk or a folder the operator broke may heal: worth a retry.
  return code === 'ENOSPC' ||
    code === 'EACCES' ||
    code === 'EROFS' ||
    code === 'EIO' ||
    code === 'EDQUOT'
    ? 'HT_PLUGIN_UNAVAILABLE'
    : 'HT_PLUGIN_THREW';
}

/** One plugin's folder. */
export class PluginFiles {
  /** The folder after realpath (set by prepare()). */
  private real = '';
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    readonly plugin: string,
    readonly dir: string,
  ) {}

  /**
   * Makes the folder (and its parents) and checks it can be written; rejects
   * with HT_PLUGIN_LOAD naming the folder and the reason.
   */
  async prepare(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o750 });
      this.real = await realpath(this.dir);
      const probe = join(this.real, `.honeytrap-probe-${process.pid}`);
      await writeFile(probe, '');
      await unlink(probe);
    } catch (err) {
      throw new PluginError(
        'HT_PLUGIN_LOAD',
        this.plugin,
        `its files folder ${this.dir} (plugins.files) cannot be made or written: ${(err as Error).message}`,
        err,
      );
    }
  }

  private error(code: ErrorCode, message: string, cause?: unknown): PluginError {
    return new PluginError(code, this.plugin, `ctx.files: ${message}`, cause);
  }

  /** The path segments of a name, or a denial. */
  private segments(name: unknown, what = 'name'): string[] {
    if (typeof name !== 'string' || name === '')
      throw this.error('HT_PLUGIN_DENIED', `${what} must be a non-empty string`);
    if (Buffer.byteLength(name) > MAX_NAME)
      throw this.error('HT_PLUGIN_DENIED', `${what} is longer than ${MAX_NAME} bytes`);
    if (name.includes('\0')) throw this.error('HT_PLUGIN_DENIED', `${what} contains NUL`);
    if (name.startsWith('/') || name.includes('\\'))
      throw this.error(
        'HT_PLUGIN_DENIED',
        `${what} "${name}" must be a relative path with "/" inside the plugin's folder`,
      );
    const parts = name.split('/');
    for (const p of parts)
      if (p === '' || p === '.' || p === '..')
        throw this.error(
          'HT_PLUGIN_DENIED',
          `${what} "${name}" has an empty, "." or ".." part (names stay inside the plugin's folder)`,
        );
    return parts;
  }

  /**
   * The folder holding `parts` (made when `create`), checked: every folder on
   * the way is a real folder (no symlink) and its realpath is inside ours.
   * Undefined when it does not exist and `create` is false.
   */
  private async folder(parts: string[], create: boolean): Promise<string | undefined> {
    let dir = this.real;
    for (const p of parts) {
      dir = join(dir, p);
      let st;
      try {
        st = await lstat(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        if (!create) return undefined;
        try {
          await mkdir(dir, { mode: 0o750 });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        st = await lstat(dir);
      }
      if (st.isSymbolicLink())
        throw this.error('HT_PLUGIN_DENIED', `${p} is a symbolic link (not followed)`);
      if (!st.isDirectory()) throw this.error('HT_PLUGIN_DENIED', `${p} is not a folder`);
    }
    const real = await realpath(dir);
    if (real !== this.real && !real.startsWith(this.real + sep))
      throw this.error('HT_PLUGIN_DENIED', `${parts.join('/')} resolves outside the folder`);
    return real;
  }

  /** Checked absolute path of file `name`, its parent folder made when `create`. */
  private async file(name: unknown, create: boolean): Promise<string | undefined> {
    const parts = this.segments(name);
    const dir = await this.folder(parts.slice(0, -1), create);
    if (dir === undefined) return undefined;
    const path = join(dir, parts.at(-1)!);
    try {
      if ((await lstat(path)).isSymbolicLink())
        throw this.error('HT_PLUGIN_DENIED', `${String(name)} is a symbolic link (not followed)`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return path;
  }

  /** Runs `fn` after every earlier operation on the same file. */
  private serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return next;
  }

  /** Serves one call; rejects with a PluginError. */
  async call(c: FilesCall): Promise<unknown> {
    if (!this.real) throw this.error('HT_PLUGIN_UNAVAILABLE', 'the folder is not ready');
    try {
      switch (c.op) {
        case 'append':
          return await this.serial(this.key(c.name), () => this.append(c.name, c.data, c.rotate));
        case 'write':
          return await this.serial(this.key(c.name), () =>
            this.write(c.name, c.data, c.exclusive === true),
          );
        case 'stat':
          return await this.serial(this.key(c.name), () => this.stat(c.name));
        case 'list':
          return await this.list(c.dir);
        case 'remove':
          return await this.serial(this.key(c.name), () => this.remove(c.name));
        default:
          throw this.error(
            'HT_PLUGIN_DENIED',
            `unknown operation ${JSON.stringify((c as { op: unknown }).op)}`,
          );
      }
    } catch (err) {
      if (err instanceof PluginError || err instanceof FileExists) throw err;
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ELOOP')
        throw this.error('HT_PLUGIN_DENIED', 'a symbolic link is in the way (not followed)', err);
      throw this.error(ioCode(err), `${c.op} failed: ${e.message}`, err);
    }
  }

  /** Serialisation key: the name as checked (two spellings of one file cannot exist). */
  private key(name: unknown): string {
    return this.segments(name).join('/');
  }

  private bytes(data: unknown): Uint8Array {
    if (typeof data === 'string') return Buffer.from(data, 'utf8');
    if (data instanceof Uint8Array) return data;
    throw this.error('HT_PLUGIN_DENIED', 'data must be a string or a Uint8Array');
  }

  private rotateOptions(r: unknown): RotateOptions | undefined {
    if (r === undefined) return undefined;
    const o = r as Partial<RotateOptions>;
    if (
      typeof o !== 'object' ||
      o === null ||
      !Number.isSafeInteger(o.maxBytes) ||
      o.maxBytes! < 1 ||
      !Number.isSafeInteger(o.keep) ||
      o.keep! < 1 ||
      o.keep! > MAX_KEEP
    )
      throw this.error(
        'HT_PLUGIN_DENIED',
        `rotate must be { maxBytes: integer >= 1, keep: integer 1..${MAX_KEEP} }`,
      );
    return { maxBytes: o.maxBytes!, keep: o.keep! };
  }

  private async append(name: string, data: unknown, rotate: unknown): Promise<void> {
    const bytes = this.bytes(data);
    const rot = this.rotateOptions(rotate);
    const path = (await this.file(name, true))!;
    if (rot) {
      const size = await stat(path).then(
        (s) => s.size,
        () => 0,
      );
      if (size > 0 && size + bytes.length > rot.maxBytes) await this.rotate(path, rot.keep);
    }
    const fh = await open(
      path,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
      0o640,
    );
    try {
      const before = (await fh.stat()).size;
      try {
        // writeFile loops over short writes; a failed append is undone, never left half written.
        await fh.writeFile(bytes);
      } catch (err) {
        await fh.truncate(before).catch(() => undefined);
        throw err;
      }
    } finally {
      await fh.close();
    }
  }

  /** name.(keep-1) dropped, name.N -> name.N+1, name -> name.1 (keep 1: name dropped). */
  private async rotate(path: string, keep: number): Promise<void> {
    const at = (n: number) => (n === 0 ? path : `${path}.${n}`);
    await rm(at(keep - 1), { force: true });
    for (let n = keep - 2; n >= 0; n--) {
      try {
        await rename(at(n), at(n + 1));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }

  private async write(name: string, data: unknown, exclusive: boolean): Promise<void> {
    const bytes = this.bytes(data);
    const path = (await this.file(name, true))!;
    // Atomic: readers see the old file or the new one, never half of it.
    const temp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await writeFile(temp, bytes, { flag: 'wx', mode: 0o640 });
    try {
      // link() fails if the name exists: exclusive without a check-then-write race.
      if (exclusive) await link(temp, path);
      else await rename(temp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new FileExists(`plugin ${this.plugin}: ctx.files: ${name} exists (exclusive write)`);
      throw err;
    } finally {
      await rm(temp, { force: true });
    }
  }

  private async stat(name: string): Promise<FileStat | null> {
    const path = await this.file(name, false);
    if (path === undefined) return null;
    try {
      const s = await lstat(path);
      return s.isFile() ? { size: s.size, mtimeMs: Math.round(s.mtimeMs) } : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  private async list(dir: unknown): Promise<string[]> {
    const parts = dir === undefined || dir === '' ? [] : this.segments(dir, 'dir');
    const folder = await this.folder(parts, false);
    if (folder === undefined) return [];
    const entries = await readdir(folder, { withFileTypes: true });
    return entries
      .filter((e) => e.isFile() || e.isDirectory())
      .filter((e) => !(parts.length === 0 && e.name.startsWith('.honeytrap-probe-')))
      .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
      .sort();
  }

  private async remove(name: string): Promise<boolean> {
    const path = await this.file(name, false);
    if (path === undefined) return false;
    try {
      await unlink(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }
}
