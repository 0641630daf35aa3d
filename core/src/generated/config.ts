/* Generated from schemas/config.schema.json by scripts/gen-types.mjs. Do not edit; run npm run gen:types. */

export type Mode = 'normal' | 'ignore' | 'mirror' | 'proxy';
/**
 * Bytes kept per direction per session; more is counted, not kept, and the record is flagged truncated.
 */
export type ReadLimit = number;
/**
 * A session with no data either way for this long ends.
 */
export type IdleTimeoutMs = number;
/**
 * A session ends this long after it started, whatever happens.
 */
export type SessionTimeoutMs = number;

/**
 * The honeytrap-ts daemon configuration (YAML or JSON).
 */
export interface HoneytrapConfig {
  /**
   * Name of this sensor, written into every attack string. Empty means the host name.
   */
  sensor?: string;
  /**
   * How connection attempts are caught.
   */
  capture?: {
    /**
     * listen: plain sockets on the configured ports (no root needed). nfqueue: iptables NFQUEUE, every port (issue #3).
     */
    type?: 'listen' | 'nfqueue';
    /**
     * Local addresses the listen capture binds. "::" is dual-stack (IPv6 and IPv4).
     *
     * @minItems 1
     */
    addresses?: [string, ...string[]];
  };
  /**
   * Session settings for every port that does not override them.
   */
  defaults?: {
    mode?: 'normal' | 'ignore' | 'mirror' | 'proxy';
    /**
     * Bytes kept per direction per session; more is counted, not kept, and the record is flagged truncated.
     */
    readLimit?: number;
    /**
     * A session with no data either way for this long ends.
     */
    idleTimeoutMs?: number;
    /**
     * A session ends this long after it started, whatever happens.
     */
    sessionTimeoutMs?: number;
  };
  /**
   * The ports to trap and how. A port or range may appear once per protocol.
   */
  ports?: PortEntry[];
  /**
   * Where response templates (files named <port>_<proto>) are found.
   */
  templates?: {
    /**
     * Folders searched in order before the built-in templates.
     */
    dirs?: string[];
    /**
     * Also search the templates shipped with honeytrap-ts.
     */
    builtin?: boolean;
  };
  /**
   * The LevelDB store of attack strings.
   */
  store?: {
    /**
     * Folder of the store. Empty: $HONEYTRAP_DATA_DIR, else /var/lib/honeytrap as root, else ~/.local/state/honeytrap.
     */
    path?: string;
    /**
     * Attack strings written to LevelDB in one batch at most.
     */
    batchSize?: number;
    /**
     * Longest time a finished attack waits before its batch is written.
     */
    flushIntervalMs?: number;
  };
  log?: {
    level?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    /**
     * json: one JSON object per line. pretty: human-readable. auto: pretty on a TTY, else json.
     */
    format?: 'auto' | 'json' | 'pretty';
  };
  /**
   * The control socket the honeytrap command uses to talk to a running daemon.
   */
  control?: {
    /**
     * Unix socket path. Empty: control.sock inside the store folder.
     */
    socket?: string;
  };
}
export interface PortEntry {
  /**
   * A port (2323) or an inclusive range ("20000-20099").
   */
  port: number | string;
  proto?: 'tcp' | 'udp';
  mode?: Mode;
  /**
   * Template file name to answer with (e.g. 21_tcp). Default: <port>_<proto> when such a file exists.
   */
  template?: string;
  readLimit?: ReadLimit;
  idleTimeoutMs?: IdleTimeoutMs;
  sessionTimeoutMs?: SessionTimeoutMs;
}
