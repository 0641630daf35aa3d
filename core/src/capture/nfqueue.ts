// The nfqueue capture, the honeytrap way: iptables sends each TCP SYN (and
// each new UDP flow) to an NFQUEUE; we make sure a listener serves the port,
// then accept the packet so the kernel delivers it to that listener.
// Every packet gets exactly one verdict, whatever happens: a packet left
// without one is how the original honeytrap stops answering on every port.
import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { createRequire } from 'node:module';
import type * as NfqueueModule from 'nfqueue';
import type { NFQueuePacket } from 'nfqueue';
import { HoneytrapError } from '../errors.js';
import type { ResolvedConfig } from '../generated/config-resolved.js';
import type { Logger } from '../log.js';
import type { PortSettings, Proto } from '../config/ports.js';
import type { SessionHost } from '../session/types.js';
import { adopt, bind, bindError } from './binder.js';
import { CAP_NET_ADMIN, hasCapability } from '../system/privileges.js';
import { parsePacket } from './packet.js';
import { PortTable, type EnsureResult, type PortTableStats } from './port-table.js';
import type { BindResult, Capture } from './types.js';

type Binding = typeof NfqueueModule;

/** core/native/nfq-reader: the queue read on a native thread of its own. */
interface ReaderThread {
  start(
    options: {
      queue: number;
      bufferSize: number;
      address: string;
      rate: number;
      burst: number;
      throttledAccept: number;
      maxListeners: number;
      excludeTcp: number[];
      excludeUdp: number[];
    },
    onBound: (port: number, proto: number, fd: number) => void,
  ): void;
  release(port: number, proto: number): void;
  stop(): void;
  stats(): NfqueueStats & {
    opened: number;
    throttled: number;
    failed: number;
    excluded: number;
    /** New ports: ms from arrival until the thread has the packet, counts per bucket < 0.1, 0.25, 0.5, 1, 2, 5, more. */
    waitHist: number[];
    /** New ports: ms from then until the verdict (socket, bind, listen, verdict), same buckets. */
    workHist: number[];
  };
}

const PROTO_NUM: Record<Proto, number> = { tcp: 0, udp: 1 };

/** Longest a packet may wait for its listener before it is accepted anyway. */
const VERDICT_DEADLINE_MS = 1000;

export interface NfqueueStats {
  packets: number;
  accepted: number;
  dropped: number;
  unparsed: number;
  late: number;
  errors: number;
}

export function loadBinding(): Binding {
  if (process.platform !== 'linux')
    throw new HoneytrapError(
      'HT_UNSUPPORTED',
      `nfqueue capture needs Linux (this is ${process.platform})`,
    );
  try {
    return createRequire(import.meta.url)('nfqueue') as Binding;
  } catch (cause) {
    throw new HoneytrapError(
      'HT_UNSUPPORTED',
      'nfqueue capture: the nfqueue binding is not built. Install libnetfilter-queue-dev and rebuild: ' +
        './scripts/setup.sh install (or apt-get install libnetfilter-queue-dev && npm rebuild nfqueue)',
      { cause },
    );
  }
}

const HIST_LABELS = ['<0.1', '<0.25', '<0.5', '<1', '<2', '<5', '>=5'];
const histogram = (counts: number[]): Record<string, number> =>
  Object.fromEntries(HIST_LABELS.map((l, i) => [l, counts[i] ?? 0]));

export function loadReaderThread(): ReaderThread {
  try {
    return createRequire(import.meta.url)(
      '../../native/nfq-reader/build/Release/nfq_reader.node',
    ) as ReaderThread;
  } catch (cause) {
    throw new HoneytrapError(
      'HT_UNSUPPORTED',
      'nfqueue capture: capture.nfqueue.reader is "thread" but its addon is not built: ' +
        './scripts/setup.sh install (or apt-get install libnetfilter-queue-dev && npm run build:native)',
      { cause },
    );
  }
}

/** errno numbers by name (os.constants.errno), for the reader thread's -errno. */
const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

function queueOpenError(queue: number, cause: unknown): HoneytrapError {
  return new HoneytrapError(
    'HT_UNSUPPORTED',
    `nfqueue capture: cannot open queue ${queue}: ${String(cause)} (is another process bound to it? does the kernel have nfnetlink_queue?)`,
    { cause },
  );
}

export class NfqueueCapture implements Capture {
  readonly name = 'nfqueue';
  readonly table: PortTable;
  readonly stats: NfqueueStats = {
    packets: 0,
    accepted: 0,
    dropped: 0,
    unparsed: 0,
    late: 0,
    errors: 0,
  };
  private stopped = false;
  private binding: Binding | undefined;
  private thread: ReaderThread | undefined;
  private readonly address: string;

  constructor(
    private readonly cfg: ResolvedConfig['capture'],
    settingsFor: (port: number, proto: Proto) => PortSettings,
    private readonly host: SessionHost,
    private readonly log: Logger,
  ) {
    const excluded = new Set(cfg.nfqueue.excludePorts);
    const address = (this.address = cfg.addresses[0] ?? '::');
    this.table = new PortTable(
      cfg.portTable,
      excluded,
      settingsFor,
      (s) => bind(s, address, host),
      // With the reader thread: unmark the port before its listener closes, so
      // the next SYN to it makes a new one instead of being accepted towards nothing.
      (port, proto) => this.thread?.release(port, PROTO_NUM[proto]),
    );
  }

  /** GET /status: the verdict counts and the port table's (the thread's counts merged in). */
  status(): NfqueueStats & {
    table: PortTableStats;
    reader: 'loop' | 'thread';
    readerWaitMs?: Record<string, number>;
    readerWorkMs?: Record<string, number>;
  } {
    if (!this.thread) return { ...this.stats, reader: 'loop', table: { ...this.table.stats } };
    const t = this.thread.stats();
    return {
      reader: 'thread',
      readerWaitMs: histogram(t.waitHist),
      readerWorkMs: histogram(t.workHist),
      packets: t.packets,
      accepted: t.accepted,
      dropped: t.dropped,
      unparsed: t.unparsed,
      late: 0,
      errors: t.errors + this.stats.errors,
      table: {
        ...this.table.stats,
        throttled: t.throttled,
        failed: t.failed + this.table.stats.failed,
        excluded: t.excluded,
      },
    };
  }

  start(): Promise<BindResult[]> {
    // Verdicts need CAP_NET_ADMIN as long as the queue runs: root has it, and
    // so does the re-run child after privileges.user (ambient capability).
    if (!hasCapability(CAP_NET_ADMIN))
      throw new HoneytrapError(
        'HT_UNSUPPORTED',
        'nfqueue capture needs root (CAP_NET_ADMIN) to open the queue and give verdicts; run as root (privileges.user then drops root)',
      );
    const { queue, bufferSize } = this.cfg.nfqueue;
    if (this.cfg.nfqueue.reader === 'thread') return this.startThread();
    const nfq = (this.binding = loadBinding());
    try {
      nfq.createQueueHandler(queue, bufferSize, (packet) => this.onPacket(packet));
    } catch (cause) {
      throw queueOpenError(queue, cause);
    }
    this.log.info({ queue }, 'Trapping attacks via NFQ');
    return Promise.resolve([]);
  }

  private startThread(): Promise<BindResult[]> {
    if (process.platform !== 'linux')
      throw new HoneytrapError(
        'HT_UNSUPPORTED',
        `nfqueue capture needs Linux (this is ${process.platform})`,
      );
    const thread = loadReaderThread();
    const { queue, bufferSize, excludePorts } = this.cfg.nfqueue;
    const pt = this.cfg.portTable;
    const excluded = (proto: Proto) =>
      excludePorts.filter((k) => k.endsWith(`/${proto}`)).map((k) => Number(k.split('/')[0]));
    try {
      thread.start(
        {
          queue,
          bufferSize,
          address: this.address,
          rate: pt.newPerSecond,
          burst: pt.burst,
          throttledAccept: pt.throttledVerdict === 'accept' ? 1 : 0,
          maxListeners: pt.maxListeners,
          excludeTcp: excluded('tcp'),
          excludeUdp: excluded('udp'),
        },
        (port, proto, fd) => this.onBound(port, proto === 0 ? 'tcp' : 'udp', fd),
      );
    } catch (cause) {
      throw queueOpenError(queue, cause);
    }
    this.thread = thread;
    this.log.info({ queue, reader: 'thread' }, 'Trapping attacks via NFQ');
    return Promise.resolve([]);
  }

  /** The reader thread opened a socket on port/proto (fd), or failed to (-errno). */
  private onBound(port: number, proto: Proto, fd: number): void {
    if (fd < 0) {
      // The same words as a bind on the main thread: the errno's name and reason.
      const code = ERRNO_NAMES.get(-fd) ?? `errno ${-fd}`;
      this.table.lastError = bindError(`${port}/${proto}`, this.address, {
        name: 'Error',
        code,
        message: code,
      });
      return;
    }
    if (this.stopped) {
      closeSync(fd);
      return;
    }
    this.table
      .adopt(port, proto, (s) => adopt(s, fd, this.address, this.host))
      .catch((err: unknown) => {
        this.stats.errors++;
        this.log.error({ err, port, proto }, 'nfqueue: adopting a listener failed');
      });
  }

  private onPacket(packet: NFQueuePacket): void {
    const nfq = this.binding!;
    this.stats.packets++;
    let done = false;
    const verdict = (accept: boolean) => {
      if (done) return;
      done = true;
      try {
        packet.setVerdict(accept ? nfq.NF_ACCEPT : nfq.NF_DROP);
        if (accept) this.stats.accepted++;
        else this.stats.dropped++;
      } catch (err) {
        this.stats.errors++;
        this.log.error({ err }, 'nfqueue verdict failed');
      }
    };
    try {
      const info = parsePacket(packet.payload);
      if (!info || this.stopped || (info.proto === 'tcp' && !info.syn)) {
        if (!info) this.stats.unparsed++;
        return verdict(true);
      }
      const r = this.table.ensure(info.dport, info.proto);
      if (typeof r === 'string') return verdict(this.accepts(r));
      const deadline = setTimeout(() => {
        this.stats.late++;
        verdict(true);
      }, VERDICT_DEADLINE_MS);
      r.then(
        (res) => verdict(this.accepts(res)),
        () => verdict(true),
      ).finally(() => clearTimeout(deadline));
    } catch (err) {
      this.stats.errors++;
      this.log.error({ err }, 'nfqueue packet handling failed');
      verdict(true);
    }
  }

  private accepts(r: EnsureResult): boolean {
    return r === 'throttled' ? this.cfg.portTable.throttledVerdict === 'accept' : true;
  }

  stop(): Promise<void> {
    // The binding cannot close its queue: from now on every packet is accepted
    // untouched, and the kernel's queue goes away with the process.
    this.stopped = true;
    this.thread?.stop();
    this.table.close();
    return Promise.resolve();
  }
}
