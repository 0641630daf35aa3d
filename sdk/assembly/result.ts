// Writing the result: analyze() returns {"findings": [...], "artifacts": [...]}
// as JSON text; these build it (schemas/plugin-result.schema.json).
import { base64Encode } from "./base64";

/** A JSON string literal for s. */
export function jsonQuote(s: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    out += s.substring(from, i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    from = i + 1;
  }
  return out + s.substring(from) + '"';
}

/** A finding's meta object, built one property at a time (flat: strings, numbers, booleans; at most 32). */
export class Meta {
  private parts: string[] = [];

  str(key: string, value: string): Meta {
    this.parts.push(jsonQuote(key) + ":" + jsonQuote(value));
    return this;
  }

  num(key: string, value: i64): Meta {
    this.parts.push(jsonQuote(key) + ":" + value.toString());
    return this;
  }

  bool(key: string, value: bool): Meta {
    this.parts.push(jsonQuote(key) + ":" + (value ? "true" : "false"));
    return this;
  }

  /** Appends the properties of another Meta. */
  append(other: Meta): Meta {
    for (let i = 0; i < other.parts.length; i++) this.parts.push(other.parts[i]);
    return this;
  }

  toJson(): string {
    return "{" + this.parts.join(",") + "}";
  }
}

/**
 * One finding as JSON. type: url, decoded-payload, hash, signature, command,
 * download, file-type, note or x-<name>; offset: the byte offset where it was
 * found (left out when negative); meta: small flat details (left out when null).
 */
export function finding(type: string, value: string, offset: i32 = -1, meta: Meta | null = null): string {
  let out = '{"type":' + jsonQuote(type) + ',"value":' + jsonQuote(value);
  if (offset >= 0) out += ',"offset":' + offset.toString();
  if (meta !== null) out += ',"meta":' + meta.toJson();
  return out + "}";
}

/** One artifact as JSON (contentType application/octet-stream lets the daemon sniff it). */
export function artifact(data: Uint8Array, contentType: string = "application/octet-stream"): string {
  return '{"contentType":' + jsonQuote(contentType) + ',"data":"' + base64Encode(data) + '"}';
}

/** analyze()'s return value: findings made with finding(), and artifacts made with artifact() when not null. */
export function output(findings: string[], artifacts: string[] | null = null): string {
  const out = '{"findings":[' + findings.join(",") + "]";
  return artifacts === null ? out + "}" : out + ',"artifacts":[' + artifacts.join(",") + "]}";
}
