// The nfqueue capture, the honeytrap way: iptables sends each TCP SYN (and
// each new UDP flow) to an NFQUEUE; we make sure a listener serves the port,
// then accept the packet so the kernel delivers it to that listener.
// Every packet gets exactly one verdict, whatever happens: a packet left
// without one is how the original honeytrap stops answering on every port.
import { createRequire } from 'node:module';
import type * as NfqueueModule from 'nfqueue';
import type { NFQueuePacket } from 'nfqueue';
import { HoneytrapError } from '../errors.js';
import type { ResolvedConfig } from '../generated/config-resolved.js';
import type { Logger } from '../log.js';
import type { PortSettings, Proto } from '../config/ports.js';
import type { SessionHost } from '../session/types.js';
import { bind } from './binder.js';
import { CAP_NET_ADMIN, hasCapability } from '../system/privileges.js';
import { parsePacket } from './packet.js';
import { PortTable, type EnsureResult } from './port-table.js';
import type { BindResult, Capture } from './types.js';

type Binding = typeof NfqueueModule;

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

  constructor(
    private readonly cfg: ResolvedConfig['capture'],
    settingsFor: (port: number, proto: Proto) => PortSettings,
    host: SessionHost,
    private readonly log: Logger,
  ) {
    const excluded = new Set(cfg.nfqueue.excludePorts);
    const address = cfg.addresses[0] ?? '::';
    this.table = new PortTable(cfg.portTable, excluded, settingsFor, (s) => bind(s, address, host));
  }

  start(): Promise<BindResult[]> {
    // Verdicts need CAP_NET_ADMIN as long as the queue runs: root has it, and
    // so does the re-run child after privileges.user (ambient capability).
    if (!hasCapability(CAP_NET_ADMIN))
      throw new HoneytrapError(
        'HT_UNSUPPORTED',
        'nfqueue capture needs root (CAP_NET_ADMIN) to open the queue and give verdicts; run as root (privileges.user then drops root)',
      );
    const nfq = (this.binding = loadBinding());
    const { queue, bufferSize } = this.cfg.nfqueue;
    try {
      nfq.createQueueHandler(queue, bufferSize, (packet) => this.onPacket(packet));
    } catch (cause) {
      throw new HoneytrapError(
        'HT_UNSUPPORTED',
        `nfqueue capture: cannot open queue ${queue}: ${String(cause)} (is another process bound to it? does the kernel have nfnetlink_queue?)`,
        { cause },
      );
    }
    this.log.info({ queue }, 'Trapping attacks via NFQ');
    return Promise.resolve([]);
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
    this.table.close();
    return Promise.resolve();
  }
}
