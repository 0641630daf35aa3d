// The migrations, in order. esbuild (honeytrap-plugin build) inlines each SQL
// file as text, so the built entry carries them: the worker reads no files.
import init from './migrations/001_init.sql' with { type: 'text' };

/** @type {import('./migrate.mjs').Migration[]} */
export const MIGRATIONS = [{ version: 1, name: '001_init', sql: init }];
