/* Generated from schemas/attack.schema.json by scripts/gen-types.mjs. Do not edit; run npm run gen:types. */

/**
 * One attack string: everything about one session, as stored and as handed to plugins.
 */
export interface Attack {
  schemaVersion: 1;
  /**
   * ULID: sorts by the session's start time.
   */
  id: string;
  sensor: string;
  startedAt: string;
  endedAt: string;
  proto: 'tcp' | 'udp';
  local: Endpoint;
  remote: Endpoint;
  mode: 'normal' | 'ignore' | 'mirror' | 'proxy';
  /**
   * Name of the response template sent in normal mode, if any.
   */
  template?: string;
  /**
   * Why the session ended.
   */
  endReason:
    | 'closed'
    | 'reset'
    | 'idle-timeout'
    | 'session-timeout'
    | 'read-limit'
    | 'ignored'
    | 'evicted'
    | 'shutdown'
    | 'error';
  /**
   * The socket error, when endReason is error or reset.
   */
  error?: string;
  received: Payload;
  sent: Payload;
  /**
   * Timing of each chunk, in order, so a session can be replayed; bounded (chunksTruncated).
   */
  chunks: {
    dir: 'in' | 'out';
    /**
     * Milliseconds since startedAt.
     */
    atMs: number;
    /**
     * Bytes kept from this chunk.
     */
    length: number;
  }[];
  chunksTruncated?: boolean;
  /**
   * Results plugins attached, by plugin name.
   */
  plugins: {
    [k: string]: unknown;
  };
  /**
   * The other end of a mirror or proxy splice.
   */
  peer?: {
    address: string;
    port: number;
    role: 'mirror' | 'proxy';
  };
  /**
   * Set when mirror or proxy could not be done and the session ran in normal mode instead.
   */
  fallback?: {
    from: 'mirror' | 'proxy';
    reason: string;
  };
  /**
   * UDP only: a reply was cut or not sent because of the reflection limits (udp.*).
   */
  replyLimited?: boolean;
}
export interface Endpoint {
  /**
   * IPv4 dotted or IPv6 text form.
   */
  address: string;
  port: number;
}
export interface Payload {
  /**
   * Bytes seen in this direction, kept or not.
   */
  length: number;
  /**
   * The bytes kept (at most the read limit), base64.
   */
  data: string;
  /**
   * True when more than the read limit was seen.
   */
  truncated: boolean;
}
