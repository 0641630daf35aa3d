// @honeytrap/sdk/assembly: the AssemblyScript side of a honeytrap-ts wasm
// plugin (docs/plugin-wasm.md).
//
//   import { finding, output, receivedText } from "@honeytrap/sdk/assembly";
//
// analyze() gets the task as JSON text (an attack, or an artifact and the
// attack it came from: PluginTaskInput in @honeytrap/sdk) and returns JSON
// text ({"findings": [...], "artifacts": [...]}). AssemblyScript has no JSON
// and no base64: these read the fields a plugin needs and write the result.
// The host grants a wasm plugin no imports but its memory, the runtime's
// abort/trace/seed and honeytrap.log (log() here): no clock, no files, no
// network. `honeytrap-plugin build` resolves this import to the SDK running
// it; plain asc finds it in node_modules/@honeytrap/sdk/assembly/.
export { log, receivedBytes, sentBytes, artifactBytes, isArtifactTask, taskBytes, latin1, receivedText } from "./task";
export { jsonBool, jsonLocate, jsonNumber, jsonRaw, jsonString, unitAt } from "./json";
export { base64Decode, base64Digit, base64Encode, base64Field } from "./base64";
export { Meta, artifact, finding, jsonQuote, output } from "./result";
