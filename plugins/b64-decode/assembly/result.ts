// Writing the result: findings with meta, artifacts (base64 data).
import { jsonQuote } from "./honeytrap";

/** A finding's meta object, built one property at a time (flat: strings, numbers, booleans). */
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

  toJson(): string {
    return "{" + this.parts.join(",") + "}";
  }
}

/** One finding as JSON, with its byte offset and meta. */
export function findingWithMeta(type: string, value: string, offset: i32, meta: Meta): string {
  return (
    '{"type":' +
    jsonQuote(type) +
    ',"value":' +
    jsonQuote(value) +
    ',"offset":' +
    offset.toString() +
    ',"meta":' +
    meta.toJson() +
    "}"
  );
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 with padding (what the host expects in an artifact's data). */
export function base64Encode(data: Uint8Array): string {
  const n = data.length;
  const out = new Uint16Array(((n + 2) / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = (<u32>data[i] << 16) | (<u32>data[i + 1] << 8) | <u32>data[i + 2];
    out[o++] = <u16>B64.charCodeAt((v >> 18) & 63);
    out[o++] = <u16>B64.charCodeAt((v >> 12) & 63);
    out[o++] = <u16>B64.charCodeAt((v >> 6) & 63);
    out[o++] = <u16>B64.charCodeAt(v & 63);
  }
  const rest = n - i;
  if (rest > 0) {
    const v = (<u32>data[i] << 16) | (rest > 1 ? <u32>data[i + 1] << 8 : 0);
    out[o++] = <u16>B64.charCodeAt((v >> 18) & 63);
    out[o++] = <u16>B64.charCodeAt((v >> 12) & 63);
    out[o++] = rest > 1 ? <u16>B64.charCodeAt((v >> 6) & 63) : 0x3d;
    out[o++] = 0x3d;
  }
  return String.UTF16.decode(out.buffer);
}

/** One artifact as JSON (contentType application/octet-stream lets the daemon sniff it). */
export function artifactJson(data: Uint8Array, contentType: string): string {
  return '{"contentType":' + jsonQuote(contentType) + ',"data":"' + base64Encode(data) + '"}';
}

/** analyze()'s return value. */
export function result(findings: string[], artifacts: string[]): string {
  return '{"findings":[' + findings.join(",") + '],"artifacts":[' + artifacts.join(",") + "]}";
}
