// b64-decode: a honeytrap-ts plugin for the wasm engine (AssemblyScript).
// Finds base64 (standard and URL-safe), %uXXXX, \uXXXX and \xNN runs in what
// an attacker sent (or in a text artifact another plugin wrote), decodes
// them, and returns each payload as a `decoded-payload` finding and as an
// artifact. Decoded text is scanned again (an encoding inside an encoding),
// up to config.maxDepth levels, inside the same task: the daemon never hands a
// plugin its own artifacts.
// Build with `honeytrap-plugin build`; the host calls analyze() once per task.
import { Meta, artifact, base64Field, finding, isArtifactTask, jsonNumber, jsonRaw, log, output } from "@honeytrap/sdk/assembly";
import { Config, Hit, KIND_BINARY, KIND_TEXT, KIND_UTF16, magicType, scan } from "./scan";
import { sha256Hex } from "./sha256";

/** The host refuses more than this many artifacts in one result. */
const MAX_ARTIFACTS = 100;

function readConfig(input: string): Config {
  const cfg = new Config();
  const raw = jsonRaw(input, "config");
  if (raw === null) return cfg;
  const enc = jsonRaw(raw, "encodings");
  if (enc !== null) {
    cfg.base64 = enc.includes('"base64"');
    cfg.base64url = enc.includes('"base64url"');
    cfg.percentU = enc.includes('"percent-u"');
    cfg.backslashU = enc.includes('"backslash-u"');
    cfg.hexEscape = enc.includes('"hex-escape"');
  }
  cfg.minBase64Length = <i32>jsonNumber(raw, "minBase64Length", cfg.minBase64Length);
  cfg.minBinaryBase64Length = <i32>jsonNumber(raw, "minBinaryBase64Length", cfg.minBinaryBase64Length);
  cfg.minTextRatio = jsonNumber(raw, "minTextRatio", cfg.minTextRatio);
  cfg.minDecodedBytes = <i32>jsonNumber(raw, "minDecodedBytes", cfg.minDecodedBytes);
  cfg.minUnicodeUnits = <i32>jsonNumber(raw, "minUnicodeUnits", cfg.minUnicodeUnits);
  cfg.minHexEscapes = <i32>jsonNumber(raw, "minHexEscapes", cfg.minHexEscapes);
  cfg.maxDepth = <i32>jsonNumber(raw, "maxDepth", cfg.maxDepth);
  cfg.maxPayloads = <i32>jsonNumber(raw, "maxPayloads", cfg.maxPayloads);
  cfg.maxValueChars = <i32>jsonNumber(raw, "maxValueChars", cfg.maxValueChars);
  cfg.maxOutputBytes = <i32>jsonNumber(raw, "maxOutputBytes", cfg.maxOutputBytes);
  return cfg;
}

class State {
  findings: string[] = [];
  artifacts: string[] = [];
  /** sha256 of every artifact in `artifacts`. */
  stored: Set<string> = new Set<string>();
  /** Roughly the bytes of JSON written so far. */
  outBytes: i32 = 64;
  /** Payloads found but not reported (maxPayloads, maxOutputBytes). */
  dropped: i32 = 0;
  /** Artifacts not written (maxOutputBytes, the host's 100 per result). */
  unstored: i32 = 0;
  full: bool = false;
  constructor(
    public cfg: Config,
    /** In an artifact task, the sha256 of the artifact: those bytes are never given back. */
    public inputSha: string | null,
  ) {}
}

/** The text of UTF-16LE bytes, one byte per character (non-ASCII becomes '?'). */
function narrow(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length >> 1);
  for (let i = 0; i < out.length; i++) {
    const lo = b[2 * i];
    out[i] = b[2 * i + 1] == 0 && lo < 0x80 ? lo : 0x3f;
  }
  return out;
}

function latin1(b: Uint8Array, max: i32): string {
  const n = b.length < max ? b.length : max;
  const units = new Uint16Array(n);
  for (let i = 0; i < n; i++) units[i] = b[i];
  return String.UTF16.decode(units.buffer);
}

function isAscii(b: Uint8Array): bool {
  for (let i = 0; i < b.length; i++) if (b[i] >= 0x80) return false;
  return true;
}

const HEX = "0123456789abcdef";

function hexPreview(b: Uint8Array, max: i32): string {
  const n = b.length < max ? b.length : max;
  let out = "";
  for (let i = 0; i < n; i++) out += HEX.charAt(b[i] >> 4) + HEX.charAt(b[i] & 15);
  return out;
}

const SHELL_WORDS: string[] = [
  "wget ", "curl ", "chmod ", "/bin/sh", "/bin/bash", "busybox", "tftp ", "rm -rf", "sh -c",
  "bash -c", "bash -i", "nohup ", "crontab", "|sh", "| sh", "|bash", "| bash", ";sh", "cd /tmp",
  "/dev/tcp/", "nc -e", "base64 -d", "echo ", "uname ",
];

/** A content type for decoded text, from what it holds. */
function textType(b: Uint8Array): string {
  const head = latin1(b, 4096);
  let s = head.trimStart();
  if (s.startsWith("#!")) return "text/x-shellscript";
  const lower = s.toLowerCase();
  if (lower.includes("<?php")) return "text/x-php";
  if (lower.startsWith("<") && (lower.includes("<html") || lower.includes("<script") || lower.includes("<!doctype html")))
    return "text/html";
  for (let i = 0; i < SHELL_WORDS.length; i++) if (lower.includes(SHELL_WORDS[i])) return "text/x-shellscript";
  return "text/plain";
}

function emit(st: State, h: Hit, depth: i32, offset: i32): void {
  const cfg = st.cfg;
  const sha = sha256Hex(h.data);
  const inputSha = st.inputSha;
  if (inputSha !== null && sha == inputSha) return; // the bytes we were given
  let contentType = "application/octet-stream";
  let value: string;
  let truncated = false;
  let textLabel = "";
  if (h.kind == KIND_TEXT) {
    contentType = textType(h.data);
    const ascii = isAscii(h.data);
    textLabel = ascii ? "ascii" : "utf-8";
    if (ascii) {
      value = latin1(h.data, cfg.maxValueChars);
      truncated = h.data.length > value.length;
    } else {
      value = String.UTF8.decode(h.data.buffer.slice(h.data.byteOffset, h.data.byteOffset + h.data.length));
      truncated = value.length > cfg.maxValueChars;
      if (truncated) value = value.substring(0, cfg.maxValueChars);
    }
  } else if (h.kind == KIND_UTF16) {
    textLabel = "utf-16le";
    const t = narrow(h.data);
    value = latin1(t, cfg.maxValueChars);
    truncated = t.length > value.length;
  } else {
    const magic = magicType(h.data);
    if (magic !== null) contentType = magic;
    const maxBytes = cfg.maxValueChars >> 1 < 64 ? cfg.maxValueChars >> 1 : 64;
    value = hexPreview(h.data, maxBytes);
    truncated = h.data.length > maxBytes;
  }

  // The artifact, once per distinct payload, while the result has room.
  let stored = st.stored.has(sha);
  let art = "";
  if (!stored) {
    const need = ((h.data.length + 2) / 3) * 4 + 2048;
    if (st.artifacts.length < MAX_ARTIFACTS && st.outBytes + need <= cfg.maxOutputBytes) {
      art = artifact(h.data, contentType);
      stored = true;
    } else st.unstored++;
  }

  const meta = new Meta()
    .str("encoding", h.encoding)
    .num("length", h.length)
    .num("size", h.data.length)
    .str("contentType", contentType)
    .str("sha256", sha)
    .num("depth", depth)
    .bool("stored", stored);
  if (depth > 1) meta.num("innerOffset", h.offset);
  if (h.layout.length) meta.str("layout", h.layout);
  if (textLabel.length) meta.str("text", textLabel);
  if (truncated) meta.bool("valueTruncated", true);
  const f = finding("decoded-payload", value, offset, meta);
  const fBytes = String.UTF8.byteLength(f) + 1;
  if (st.outBytes + fBytes + art.length > cfg.maxOutputBytes) {
    st.full = true;
    st.dropped++;
    return;
  }
  st.findings.push(f);
  st.outBytes += fBytes;
  if (art.length) {
    st.artifacts.push(art);
    st.stored.add(sha);
    st.outBytes += art.length + 1;
  }
}

/** Reports every payload in `d`, then looks inside the decoded text. */
function walk(st: State, d: Uint8Array, depth: i32, outer: i32): void {
  const hits = scan(d, st.cfg);
  for (let k = 0; k < hits.length; k++) {
    if (st.full || st.findings.length >= st.cfg.maxPayloads) {
      st.dropped += hits.length - k;
      return;
    }
    const h = hits[k];
    // A nested payload is reported at the offset of the outermost run that holds it.
    const offset = depth == 1 ? h.offset : outer;
    emit(st, h, depth, offset);
    if (depth < st.cfg.maxDepth && h.kind != KIND_BINARY)
      walk(st, h.kind == KIND_UTF16 ? narrow(h.data) : h.data, depth + 1, offset);
  }
}

/** input: the task as JSON text. Returns {"findings": [...], "artifacts": [...]} as JSON text. */
export function analyze(input: string): string {
  const cfg = readConfig(input);
  let data: Uint8Array;
  let inputSha: string | null = null;
  if (isArtifactTask(input)) {
    data = base64Field(input, "artifact.data");
    const sha = jsonRaw(input, "artifact.sha256");
    if (sha !== null && sha.length == 66) inputSha = sha.substring(1, 65);
  } else data = base64Field(input, "attack.received.data");
  const st = new State(cfg, inputSha);
  walk(st, data, 1, 0);
  if (st.dropped > 0)
    log(st.dropped.toString() + " decoded payload(s) not reported (maxPayloads " + cfg.maxPayloads.toString() + ", maxOutputBytes " + cfg.maxOutputBytes.toString() + ")");
  if (st.unstored > 0)
    log(st.unstored.toString() + " decoded payload(s) reported without an artifact (maxOutputBytes, or 100 artifacts per result)");
  return output(st.findings, st.artifacts);
}
