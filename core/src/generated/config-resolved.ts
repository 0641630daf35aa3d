/* Generated from schemas/config.schema.json by scripts/gen-types.mjs. Do not edit; run npm run gen:types. */
/* The config after validation: every property with a default is present. */

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
export interface ResolvedConfig {
  /**
   * Name of this sensor, written into every attack string. Empty means the host name.
   */
  sensor: string;
  /**
   * How connection attempts are caught.
   */
  capture: {
    /**
     * listen: plain sockets on the configured ports (no root needed). nfqueue: iptables NFQUEUE catches every port and a listener is started on demand (root).
     */
    type: 'listen' | 'nfqueue';
    /**
     * Local addresses listeners bind (both captures). "::" is dual-stack (IPv6 and IPv4).
     *
     * @minItems 1
     */
    addresses: [string, ...string[]];
    /**
     * The nfqueue capture: which queue, and how the rules are made.
     */
    nfqueue: {
      /**
       * NFQUEUE number the rules send packets to.
       */
      queue: number;
      /**
       * Netlink socket receive buffer in bytes: room for queued packets during bursts.
       */
      bufferSize: number;
      /**
       * Who reads the queue. loop: Node's main thread (the nfqueue binding). thread: a native thread of its own (core/native/nfq-reader, built by npm run build:native) that opens the listener and gives the verdict itself, so a SYN never waits for the main thread.
       */
      reader: 'loop' | 'thread';
      /**
       * Add --queue-bypass to the rules: when no daemon reads the queue, packets pass (the kernel answers) instead of being dropped.
       */
      failOpen: boolean;
      /**
       * Which iptables to drive: auto picks the backend the system's iptables uses.
       */
      iptables: 'auto' | 'legacy' | 'nft';
      /**
       * Only catch packets arriving on this interface (empty: all but loopback).
       */
      interface: string;
      /**
       * Ports never taken (real services), as "22/tcp" or "53/udp"; their packets are accepted before the queue rule.
       */
      excludePorts: string[];
    };
    /**
     * On-demand listeners (nfqueue capture): caps and throttling under scans.
     */
    portTable: {
      /**
       * Listening sockets open at most; the least recently used idle one is closed to make room.
       */
      maxListeners: number;
      /**
       * A listener with no new connection and no session for this long is closed.
       */
      idleTimeoutMs: number;
      /**
       * New listeners opened per second at most (token bucket); a port scan beyond it is throttled.
       */
      newPerSecond: number;
      /**
       * New listeners allowed in a burst above newPerSecond.
       */
      burst: number;
      /**
       * Verdict for a packet that would need a listener while throttled: drop (the client retries) or accept (the kernel refuses).
       */
      throttledVerdict: 'drop' | 'accept';
    };
  };
  /**
   * Session settings for every port that does not override them.
   */
  defaults: {
    /**
     * Connection mode of every port without its own.
     */
    mode: 'normal' | 'ignore' | 'mirror' | 'proxy';
    /**
     * Bytes kept per direction per session; more is counted, not kept, and the record is flagged truncated.
     */
    readLimit: number;
    /**
     * A session with no data either way for this long ends.
     */
    idleTimeoutMs: number;
    /**
     * A session ends this long after it started, whatever happens.
     */
    sessionTimeoutMs: number;
    proxy?: ProxyTarget;
  };
  /**
   * The ports to trap and how. A port or range may appear once per protocol.
   */
  ports: PortEntry[];
  /**
   * Mirror and proxy modes: connect timeouts and limits on concurrent spliced sessions.
   */
  splice: {
    /**
     * Connect-back (mirror) or connect (proxy) that takes longer falls back to normal mode.
     */
    connectTimeoutMs: number;
    /**
     * Concurrent mirror sessions per remote address; beyond it a session falls back to normal.
     */
    mirrorPerSource: number;
    /**
     * Concurrent mirror sessions in total.
     */
    mirrorTotal: number;
    /**
     * Concurrent proxy sessions in total.
     */
    proxyTotal: number;
  };
  /**
   * Limits on UDP replies, so the honeypot cannot be used as a reflector or amplifier.
   */
  udp: {
    /**
     * A reply is cut to this many bytes.
     */
    maxReplyBytes: number;
    /**
     * A session's replies stay at most this many times the bytes it received.
     */
    amplification: number;
    /**
     * UDP replies per second over all peers at most (token bucket).
     */
    repliesPerSecond: number;
    /**
     * UDP replies per remote address per minute at most.
     */
    perSourcePerMinute: number;
  };
  /**
   * Where response templates (files named <port>_<proto>) are found.
   */
  templates: {
    /**
     * Folders searched in order before the built-in templates.
     */
    dirs: string[];
    /**
     * Also search the templates shipped with honeytrap-ts.
     */
    builtin: boolean;
  };
  /**
   * The LevelDB store of attack strings.
   */
  store: {
    /**
     * Folder of the store. Empty: $HONEYTRAP_DATA_DIR, else /var/lib/honeytrap as root, else ~/.local/state/honeytrap.
     */
    path: string;
    /**
     * Attack strings written to LevelDB in one batch at most.
     */
    batchSize: number;
    /**
     * Longest time a finished attack waits before its batch is written.
     */
    flushIntervalMs: number;
  };
  /**
   * The plugin host: where plugins are found and their configs.
   */
  plugins: {
    /**
     * Plugin folders, each holding one folder per plugin; watched, so dropping a plugin in or taking it out needs no restart.
     */
    dirs: string[];
    /**
     * Also load the plugins shipped in plugins/.
     */
    builtin: boolean;
    /**
     * Plugins not to run, by name.
     */
    disabled: string[];
    /**
     * Each plugin's own config by plugin name, validated against the plugin's configSchema.
     */
    config: {
      [k: string]: {};
    };
    /**
     * Attacks waiting for plugins at most; beyond it new attacks skip the plugins (counted and logged).
     */
    maxBacklog: number;
    /**
     * Consecutive failures after which a plugin is disabled with the reason.
     */
    failureLimit: number;
    /**
     * Largest artifact a plugin may write.
     */
    maxArtifactBytes: number;
    /**
     * Largest result (JSON) one plugin task may return; more is a failure.
     */
    maxResultBytes: number;
    /**
     * The network broker: the only way plugins reach the network (downloads, clamd). What any plugin may do, on top of what its manifest allows.
     */
    network: {
      /**
       * Let plugins reach loopback, private and special ranges (labs only). Destinations in hosts are allowed even when this is false.
       */
      allowPrivate: boolean;
      /**
       * More destinations per plugin name: host, host:port, or unix:/path (a clamd socket, a local mirror). The operator's grant: allowed even in private ranges.
       */
      hosts: {
        [k: string]: string[];
      };
      /**
       * Largest response (download) in bytes; more is cut and marked truncated.
       */
      maxBytes: number;
      /**
       * Longest one request may take, connecting included.
       */
      timeoutMs: number;
      /**
       * Rate limit per destination address over all plugins, so downloads cannot be turned against a third party.
       */
      perDestination: {
        /**
         * Requests to one destination address (IPv6: one /64) at most in each window.
         */
        requests: number;
        /**
         * The window, in seconds.
         */
        perSeconds: number;
      };
      /**
       * Requests in flight at once over all plugins.
       */
      maxConcurrent: number;
    };
    /**
     * Where plugins with the files capability write (log-json, log-attacker, save-file).
     */
    files: {
      /**
       * Each such plugin writes in <root>/<plugin name> unless dirs names its folder. Default: <dataDir>/files.
       */
      root?: string;
      /**
       * A plugin's folder by plugin name (T-Pot: log-json and log-attacker in /data/honeytrap/log).
       */
      dirs: {
        [k: string]: string;
      };
      /**
       * Largest data one ctx.files append or write may carry; a bigger call is refused (HT_PLUGIN_DENIED), naming the plugin, the file, the size and this limit.
       */
      maxWriteBytes: number;
      /**
       * Most bytes a plugin's folder may hold, counted over all its files (symbolic links not followed; a folder two plugins share is counted once for both). An append or write that would go past it is refused as HT_PLUGIN_UNAVAILABLE, so at-least-once reports wait and are retried once space is freed (removing files in the folder: the daemon recounts it, at most every 30 s, when a call is refused). Rotation keeps logs bounded; this bounds the rest (save-file's downloads).
       */
      quotaBytes: number;
    };
    /**
     * The database of each plugin with the database capability, by plugin name.
     */
    databases: {
      [k: string]: {
        /**
         * postgres://user:password@host:port/database
         */
        url: string;
        /**
         * Connections the host keeps open to this database at most.
         */
        poolSize: number;
      };
    };
    /**
     * Reports kept for at-least-once output plugins: how they are retried and how many are kept.
     */
    retry: {
      /**
       * Wait before the first retry of a failed report; doubled after each failure.
       */
      initialMs: number;
      /**
       * Longest wait between retries.
       */
      maxMs: number;
      /**
       * Reports kept per plugin at most; beyond it the oldest are dropped (counted and logged).
       */
      maxQueued: number;
    };
  };
  /**
   * Structured logs (pino) on standard output.
   */
  log: {
    /**
     * Lowest level written; every stored attack is one info line.
     */
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    /**
     * json: one JSON object per line. pretty: human-readable. auto: pretty on a TTY, else json.
     */
    format: 'auto' | 'json' | 'pretty';
  };
  /**
   * The control socket the honeytrap command uses to talk to a running daemon.
   */
  control: {
    /**
     * Unix socket path. Empty: control.sock inside the store folder.
     */
    socket: string;
  };
  /**
   * Run without root: a root start re-runs itself as this user with only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE (docs/nfqueue.md).
   */
  privileges: {
    /**
     * User to run as after start-up (empty: keep the current user).
     */
    user: string;
    /**
     * Group to run as (empty: the user's primary group).
     */
    group: string;
  };
}
/**
 * Where proxy mode forwards a session: host:port, optionally another target per source network.
 */
export interface ProxyTarget {
  /**
   * host:port (IPv6 as [addr]:port) of the peer, e.g. a high-interaction honeypot.
   */
  target: string;
  /**
   * Per source network targets, first match wins; sources no route matches go to target.
   */
  routes: {
    /**
     * Source network in CIDR form, e.g. 10.0.0.0/8 or 2001:db8::/32.
     */
    from: string;
    /**
     * host:port for sessions from this network.
     */
    target: string;
  }[];
}
export interface PortEntry {
  /**
   * A port (2323) or an inclusive range ("20000-20099").
   */
  port: number | string;
  /**
   * Protocol of the port or range.
   */
  proto: 'tcp' | 'udp';
  /**
   * Connection mode of this port (default: defaults.mode).
   */
  mode?: 'normal' | 'ignore' | 'mirror' | 'proxy';
  /**
   * Template file name to answer with (e.g. 21_tcp). Default: <port>_<proto> when such a file exists.
   */
  template?: string;
  readLimit?: ReadLimit;
  idleTimeoutMs?: IdleTimeoutMs;
  sessionTimeoutMs?: SessionTimeoutMs;
  proxy?: ProxyTarget;
}
