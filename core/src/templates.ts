// Response templates: files named <port>_<proto> (as honeytrap's responses
// folder) holding the raw bytes sent in normal mode. Read once, then cached.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths } from './paths.js';

export class TemplateLibrary {
  private readonly dirs: string[];
  private readonly cache = new Map<string, Buffer | null>();

  constructor(dirs: string[], builtin: boolean) {
    this.dirs = builtin ? [...dirs, paths.builtinTemplates] : [...dirs];
  }

  /** The template's bytes, from the first folder that has it. */
  get(name: string): Buffer | undefined {
    let hit = this.cache.get(name);
    if (hit === undefined) {
      hit = null;
      if (/^[A-Za-z0-9._-]+$/.test(name) && !name.startsWith('.')) {
        for (const dir of this.dirs) {
          try {
            hit = readFileSync(join(dir, name));
            break;
          } catch {
            /* not in this folder */
          }
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
