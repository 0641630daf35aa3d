// ctx.files: the one folder a plugin with the files capability may write in
// (plugins.files.dirs.<name>, else <root>/<name>, root defaulting to
// <dataDir>/files). Names are relative paths with "/"; nothing resolves
// outside the folder: no "..", no absolute path, no NUL, and no symlink on
// the way (every folder on the path is checked with lstat and realpath, the
// file itself is opened with O_NOFOLLOW). Operations on one file run one
// after another, so concurrent appends never interleave or lose a rotation.
// Sizes are bounded: one append or write carries at most maxWriteBytes
// (HT_PLUGIN_DENIED), and the folder holds at most quotaBytes over all its
// files (HT_PLUGIN_UNAVAILABLE: retried once space is freed). The quota keeps
// a running count per real folder (plugins sharing one share it): counted at
// load, then kept by every append, write, remove and rotation, and counted
// again, at most every RECOUNT_MS, when it refuses a call (the operator may
// have removed files).
import { constants, type Dirent } from 'node:fs';
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
/** plugins.files.maxWriteBytes's default (the schema's): 64 MiB. */
export const DEFAULT_MAX_WRITE_BYTES = 64 * 1024 * 1024;
/** plugins.files.quotaBytes's default (the schema's): 10 GiB. */
export const DEFAULT_QUOTA_BYTES = 10 * 1024 * 1024 * 1024;
/** A refused call counts the folder again at most this often (milliseconds). */
export const RECOUNT_MS = 30_000;
/** lstat calls in flight at once while counting a folder. */
const COUNT_BATCH = 64;

/** The size limits of one plugin's folder (plugins.files). */
export interface FilesLimits {
  /** Largest data of one append or write. */
  maxWriteBytes: number;
  /** Most bytes the folder may hold over all its files. */
  quotaBytes: number;
}

/** The folder of plugin `name` under the operator's plugins.files. */
export function pluginFilesDir(
  cfg: Pick<ResolvedConfig['plugins']['files'], 'root' | 'dirs'>,
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

/**
 * Bytes in the regular files under `dir`, its subfolders included; symbolic
 * links are not followed (nor counted), nor are other special files.
 */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  const folders = [dir];
  for (let d = folders.pop(); d !== undefined; d = folders.pop()) {
    let entries: Dirent[];
    try {
      // Dirent types come from lstat (where the file system does not give them).
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      // A subfolder removed while counting holds nothing.
      if (d !== dir && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const files: string[] = [];
    for (const e of entries) {
      if (e.isDirectory()) folders.push(join(d, e.name));
      else if (e.isFile()) files.push(join(d, e.name));
    }
    for (let i = 0; i < files.length; i += COUNT_BATCH) {
      const sizes = await Promise.all(files.slice(i, i + COUNT_BATCH).map(fileBytes));
      for (const size of sizes) total += size;
    }
  }
  return total;
}

/** Size of the regular file at `path` (not followed), 0 when there is none. */
async function fileBytes(path: string): Promise<number> {
  try {
    const st = await lstat(path);
    return st.isFile() ? st.size : 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/**
 * The running byte count of one real folder, shared by the plugins writing in
 * it. Calls take their bytes before writing (so concurrent calls on different
 * files cannot together pass the quota) and give back what they did not use.
 */
class FolderUsage {
  used = 0;
  /** Date.now() when the last count ended. */
  countedAt = 0;
  refs = 0;
  private counting: Promise<void> | undefined;
  /** Changes made since the running count started, kept on top of it. */
  private sinceCount = 0;

  constructor(readonly real: string) {}

  add(delta: number): void {
    this.used += delta;
    this.sinceCount += delta;
  }

  /**
   * Counts the folder again (one count at a time; a caller during a count gets
   * that count). A change made during the count may be counted twice until
   * the next count: the error is on the side of refusing.
   */
  recount(): Promise<void> {
    this.counting ??= (async () => {
      this.sinceCount = 0;
      try {
        this.used = (await folderBytes(this.real)) + this.sinceCount;
      } finally {
        this.countedAt = Date.now();
        this.counting = undefined;
      }
    })();
    return this.counting;
  }
}

/** The count of each real folder in use, by its realpath. */
const usages = new Map<string, FolderUsage>();

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
  /** The folder's byte count (set by prepare()). */
  private usage: FolderUsage | undefined;
  readonly limits: FilesLimits;

  constructor(
    readonly plugin: string,
    readonly dir: string,
    limits: Partial<FilesLimits> = {},
  ) {
    this.limits = {
      maxWriteBytes: limits.maxWriteBytes ?? DEFAULT_MAX_WRITE_BYTES,
      quotaBytes: limits.quotaBytes ?? DEFAULT_QUOTA_BYTES,
    };
  }

  /**
   * Makes the folder (and its parents), checks it can be written and counts
   * the bytes it holds; rejects with HT_PLUGIN_LOAD naming the folder and the
   * reason.
   */
  async prepare(): Promise<void> {
    let real;
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o750 });
      real = await realpath(this.dir);
      const probe = join(real, `.honeytrap-probe-${process.pid}`);
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
    let usage = usages.get(real);
    if (!usage) usages.set(real, (usage = new FolderUsage(real)));
    usage.refs++;
    try {
      await usage.recount();
    } catch (err) {
      this.releaseUsage(usage);
      throw new PluginError(
        'HT_PLUGIN_LOAD',
        this.plugin,
        `its files folder ${this.dir} (plugins.files) cannot be counted for plugins.files.quotaBytes: ${(err as Error).message}`,
        err,
      );
    }
    this.usage = usage;
    this.real = real;
  }

  /** Ends the plugin's use of the folder (when it unloads); later calls are unavailable. */
  close(): void {
    // Calls still running keep updating the count they took part in.
    if (this.usage && this.real) this.releaseUsage(this.usage);
    this.real = '';
  }

  private releaseUsage(usage: FolderUsage): void {
    if (--usage.refs === 0 && usages.get(usage.real) === usage) usages.delete(usage.real);
  }

  /** Bytes the folder holds by the running count (0 before prepare()). */
  get usedBytes(): number {
    return this.usage?.used ?? 0;
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
        case 'append': {
          const key = this.key(c.name);
          this.checkSize(c.op, key, c.data);
          return await this.serial(key, () => this.append(key, c.data, c.rotate));
        }
        case 'write': {
          const key = this.key(c.name);
          this.checkSize(c.op, key, c.data);
          return await this.serial(key, () => this.write(key, c.data, c.exclusive === true));
        }
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

  /** Refuses data over maxWriteBytes before the call waits for its file. */
  private checkSize(op: 'append' | 'write', name: string, data: unknown): void {
    const size =
      typeof data === 'string'
        ? Buffer.byteLength(data, 'utf8')
        : data instanceof Uint8Array
          ? data.byteLength
          : undefined;
    if (size === undefined)
      throw this.error('HT_PLUGIN_DENIED', 'data must be a string or a Uint8Array');
    if (size > this.limits.maxWriteBytes)
      throw this.error(
        'HT_PLUGIN_DENIED',
        `${op} of ${size} bytes to ${name} is over the limit of ${this.limits.maxWriteBytes} bytes per call (plugins.files.maxWriteBytes)`,
      );
  }

  /**
   * Runs `fn`, a call that changes the folder's bytes by `delta` when it
   * succeeds. A growth is taken from the quota first (or refused); what the
   * call did not use is given back.
   */
  private async charged<T>(
    op: 'append' | 'write',
    name: string,
    size: number,
    delta: number,
    fn: () => Promise<T>,
  ): Promise<T> {
    const usage = this.usage!;
    const taken = Math.max(delta, 0);
    if (taken > 0) await this.take(usage, op, name, size, taken);
    let done = false;
    try {
      const result = await fn();
      done = true;
      return result;
    } finally {
      usage.add(done ? delta - taken : -taken);
    }
  }

  /** Takes `bytes` of the quota, or refuses with HT_PLUGIN_UNAVAILABLE. */
  private async take(
    usage: FolderUsage,
    op: string,
    name: string,
    size: number,
    bytes: number,
  ): Promise<void> {
    const quota = this.limits.quotaBytes;
    if (usage.used + bytes > quota && Date.now() - usage.countedAt >= RECOUNT_MS)
      // Perhaps the operator freed space: count again before refusing.
      await usage.recount().catch(() => undefined);
    // Checked and taken with no await between, so concurrent calls cannot both pass.
    if (usage.used + bytes > quota)
      throw this.error(
        'HT_PLUGIN_UNAVAILABLE',
        `${op} of ${size} bytes to ${name} would take the folder ${this.dir} over its quota: ${usage.used} of ${quota} bytes used (plugins.files.quotaBytes)`,
      );
    usage.add(bytes);
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
      // Rotation first: what it drops is room for this append.
      if (size > 0 && size + bytes.length > rot.maxBytes) await this.rotate(path, rot.keep);
    }
    await this.charged('append', name, bytes.length, bytes.length, async () => {
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
    });
  }

  /**
   * name.(keep-1) dropped, name.N -> name.N+1, name -> name.1 (keep 1: name
   * dropped); the bytes of what is dropped or renamed over leave the count.
   */
  private async rotate(path: string, keep: number): Promise<void> {
    const usage = this.usage!;
    const at = (n: number) => (n === 0 ? path : `${path}.${n}`);
    const dropped = await fileBytes(at(keep - 1));
    await rm(at(keep - 1), { force: true });
    usage.add(-dropped);
    for (let n = keep - 2; n >= 0; n--) {
      // Normally nothing: at(n + 1) was moved on or dropped just before.
      const replaced = await fileBytes(at(n + 1));
      try {
        await rename(at(n), at(n + 1));
        usage.add(-replaced);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }

  private async write(name: string, data: unknown, exclusive: boolean): Promise<void> {
    const bytes = this.bytes(data);
    const path = (await this.file(name, true))!;
    const exists = () =>
      new FileExists(`plugin ${this.plugin}: ctx.files: ${name} exists (exclusive write)`);
    const old = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (exclusive && old) throw exists();
    // The quota counts the file after the write: a rewrite takes only its growth.
    const delta = bytes.length - (old?.isFile() ? old.size : 0);
    await this.charged('write', name, bytes.length, delta, async () => {
      // Atomic: readers see the old file or the new one, never half of it.
      const temp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
      await writeFile(temp, bytes, { flag: 'wx', mode: 0o640 });
      try {
        // link() fails if the name exists: exclusive without a check-then-write race.
        if (exclusive) await link(temp, path);
        else await rename(temp, path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw exists();
        throw err;
      } finally {
        await rm(temp, { force: true });
      }
    });
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
      const size = await fileBytes(path);
      await unlink(path);
      this.usage!.add(-size);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }
}
