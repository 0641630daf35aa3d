// Types for scripts/gen-config-doc.mjs, so TypeScript (the config-doc test) can import it.

export declare const schemaPath: string;
export declare const docPath: string;
export declare const START: string;
export declare const END: string;

/** The config reference table rendered from the schema (read from schemas/ unless given). */
export declare function renderConfigReference(schema?: object): string;

/** The text between the markers of a doc, or undefined when a marker is missing. */
export declare function extractReference(doc: string): string | undefined;

/** The doc with the text between the markers replaced by `table`. */
export declare function replaceReference(doc: string, table: string): string;
