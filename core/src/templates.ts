// Response templates: files named <port>_<proto> (as honeytrap's responses
// folder) holding the raw bytes sent in normal mode. The folders are listed
// once at start, so a port without a template costs no file system call: with
// nfqueue every first connection to a new port asks, on the main thread, while
// the next SYN waits (a failed open per folder was ~0.1 ms of each first
// connection). A template is read on first use, then cached.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths } from './paths.js';

export class TemplateLibrary {
  private readonly dirs: string[];
  private readonly cache = new Map<string, Buffer | null>();
  /** Each template name and the folder it is read from (the first that has it). */
  private readonly found = new Map<string, string>();

  constructor(dirs: string[], builtin: boolean) {
    this.dirs = builtin ? [...dirs, paths.builtinTemplates] : [...dirs];
    for (const dir of this.dirs) {
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        /* a missing folder has no templates */
      }
      for (const n of names) if (!this.found.has(n)) this.found.set(n, dir);
    }
  }

  /** The template's bytes, from the first folder that has it. */
  get(name: string): Buffer | undefined {
    let hit = this.cache.get(name);
    if (hit === undefined) {
      hit = null;
      const dir = this.found.get(name);
      if (dir && /^[A-Za-z0-9._-]+$/.test(name) && !name.startsWith('.')) {
        try {
          hit = readFileSync(join(dir, name));
        } catch {
          /* removed or unreadable since start: no template */
        }
      }
      this.cache.set(name, hit);
    }
    return hit ?? undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  describe(): string {
    return this.dirs.length ? this.dirs.join(', ') : '(no template folders)';
  }
}
