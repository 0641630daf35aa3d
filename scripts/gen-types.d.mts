// Types for scripts/gen-types.mjs, so TypeScript (the stale-types test) can import it.

/** Every generated file, by path relative to the repository root, with the text it must have. */
export declare function generate(): Promise<Map<string, string>>;
