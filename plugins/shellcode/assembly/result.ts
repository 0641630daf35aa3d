// Writing the result: findings with meta.
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

  /** Appends the properties of another Meta. */
  append(other: Meta): Meta {
    for (let i = 0; i < other.parts.length; i++) this.parts.push(other.parts[i]);
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

/** analyze()'s return value. */
export function result(findings: string[]): string {
  return '{"findings":[' + findings.join(",") + "]}";
}
