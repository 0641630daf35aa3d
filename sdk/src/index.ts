// @honeytrap/sdk: what plugin authors import. The attack string type is
// generated from schemas/attack.schema.json; the plugin API comes with issue #5.
export type { Attack } from './generated/attack.js';
