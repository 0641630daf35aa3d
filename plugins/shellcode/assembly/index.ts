// shellcode: a honeytrap-ts plugin for the wasm engine (AssemblyScript).
// Looks for common x86 shellcode and decoder patterns in what an attacker sent
// (and in binary artifacts other plugins wrote, such as decoded payloads):
// GetPC sequences, XOR decoder loops, NOP sleds and well-known stubs
// (Metasploit shikata_ga_nai and friends, Linux and Windows shellcode idioms).
// Each match is a `signature` finding with its byte offset; meta.pattern
// names it. Build with `honeytrap-plugin build`.
import { jsonNumber, jsonRaw, log, output, taskBytes } from "@honeytrap/sdk/assembly";
import { Config, Hit, Scanner } from "./detect";

function readConfig(input: string): Config {
  const cfg = new Config();
  const raw = jsonRaw(input, "config");
  if (raw === null) return cfg;
  cfg.minSledLength = <i32>jsonNumber(raw, "minSledLength", cfg.minSledLength);
  cfg.minSledDistinct = <i32>jsonNumber(raw, "minSledDistinct", cfg.minSledDistinct);
  cfg.decoderWindow = <i32>jsonNumber(raw, "decoderWindow", cfg.decoderWindow);
  cfg.maxFindings = <i32>jsonNumber(raw, "maxFindings", cfg.maxFindings);
  const disabled = jsonRaw(raw, "disable");
  if (disabled !== null) cfg.disabled = disabled;
  return cfg;
}

/** input: the task as JSON text. Returns {"findings": [...]} as JSON text. */
export function analyze(input: string): string {
  const cfg = readConfig(input);
  const s = new Scanner(taskBytes(input), cfg);
  s.run();
  if (s.dropped > 0) log("more matches than maxFindings (" + cfg.maxFindings.toString() + "): the rest are not reported");
  // By offset: a stub is reported at its first byte, found after its GetPC.
  // (Insertion sort: stable, and the list is nearly in order already.)
  const hits = s.hits;
  for (let k = 1; k < hits.length; k++) {
    const h = hits[k];
    let j = k - 1;
    while (j >= 0 && hits[j].offset > h.offset) {
      hits[j + 1] = hits[j];
      j--;
    }
    hits[j + 1] = h;
  }
  const out = new Array<string>(hits.length);
  for (let k = 0; k < hits.length; k++) out[k] = hits[k].json;
  return output(out);
}
