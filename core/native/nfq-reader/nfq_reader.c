// The nfqueue capture's reader thread (capture.nfqueue.reader: "thread").
//
// Reads the NFQUEUE on a pthread of its own, so a SYN never waits for Node's
// main thread: for a TCP SYN or UDP datagram to a port that has no listener
// of ours yet (and is not excluded, and the new-listener throttle allows) it
// creates, binds and listens the socket itself, marks the port, gives
// NF_ACCEPT at once and hands (port, proto, fd) to JavaScript through a
// thread-safe function; JS adopts the fd into the port table. Before JS
// closes a listener it calls release(port, proto), so the next packet to that
// port makes a new one. Every packet gets exactly one verdict.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

enum { P_TCP = 0, P_UDP = 1 };

typedef struct {
  int port, proto, fd;  // fd < 0: -errno of a failed bind
} handoff_t;

static struct {
  struct nfq_handle *h;
  struct nfq_q_handle *qh;
  int nlfd;
  pthread_t thread;
  int running;
  atomic_int stopping;

  pthread_mutex_t mu;             // guards bound[]
  uint8_t bound[2][65536];        // ports with a listener of ours (or being handed over)
  uint8_t excluded[2][65536];     // read-only after start
  int marked;                     // ports set in bound[] (guarded by mu)
  int max_marked;                 // maxListeners + room for the ones JS has not adopted yet

  int family;  // AF_INET or AF_INET6
  struct sockaddr_storage addr;
  socklen_t addrlen;

  double rate, burst, tokens, last;
  int throttled_accept;

  napi_threadsafe_function tsfn;

  atomic_uint_fast64_t packets, accepted, dropped, unparsed, errors;
  atomic_uint_fast64_t opened, throttled, failed, excl, verdict_errors;
  // Where a new port's time goes: from the packet's arrival (kernel timestamp)
  // until the thread has it, and from then until its verdict is given.
  // Buckets: < 0.1, 0.25, 0.5, 1, 2, 5 ms, more.
  atomic_uint_fast64_t wait_hist[7], work_hist[7];
} S;

static const double BUCKETS_MS[6] = {0.1, 0.25, 0.5, 1, 2, 5};

static void count_ms(atomic_uint_fast64_t *hist, double ms) {
  int i = 0;
  while (i < 6 && ms >= BUCKETS_MS[i]) i++;
  atomic_fetch_add(&hist[i], 1);
}

static double realtime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int take_token(void) {
  double now = now_s();
  S.tokens += (now - S.last) * S.rate;
  if (S.tokens > S.burst) S.tokens = S.burst;
  S.last = now;
  if (S.tokens < 1) return 0;
  S.tokens -= 1;
  return 1;
}

// Just enough IPv4/IPv6 parsing (as core/src/capture/packet.ts) to know
// "a TCP SYN or UDP datagram to port P". Returns 0 for anything else.
static int parse(const uint8_t *p, int len, int *proto, int *dport, int *syn) {
  if (len < 1) return 0;
  int version = p[0] >> 4, nh, off;
  if (version == 4) {
    if (len < 20) return 0;
    off = (p[0] & 0x0f) * 4;
    nh = p[9];
    if ((((p[6] << 8) | p[7]) & 0x1fff) != 0) return 0;
  } else if (version == 6) {
    if (len < 40) return 0;
    nh = p[6];
    off = 40;
    for (int hops = 0; hops < 8 && (nh == 0 || nh == 43 || nh == 60 || nh == 44); hops++) {
      if (len < off + 8) return 0;
      int next = p[off];
      if (nh == 44) {
        if ((((p[off + 2] << 8) | p[off + 3]) & 0xfff8) != 0) return 0;
        off += 8;
      } else {
        off += (p[off + 1] + 1) * 8;
      }
      nh = next;
    }
  } else {
    return 0;
  }
  if (nh == 6) {
    if (len < off + 14) return 0;
    *proto = P_TCP;
    *dport = (p[off + 2] << 8) | p[off + 3];
    *syn = (p[off + 13] & 0x12) == 0x02;
    return 1;
  }
  if (nh == 17) {
    if (len < off + 8) return 0;
    *proto = P_UDP;
    *dport = (p[off + 2] << 8) | p[off + 3];
    *syn = 0;
    return 1;
  }
  return 0;
}

// A listening TCP socket or a bound UDP socket on port, like binder.ts makes
// them (TCP: SO_REUSEADDR, backlog 1024; IPv6: dual-stack). fd or -errno.
static int open_socket(int port, int proto) {
  int fd = socket(S.family, (proto == P_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1, zero = 0;
  if (proto == P_TCP) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (S.family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  struct sockaddr_storage a = S.addr;
  if (S.family == AF_INET6)
    ((struct sockaddr_in6 *)&a)->sin6_port = htons(port);
  else
    ((struct sockaddr_in *)&a)->sin_port = htons(port);
  if (bind(fd, (struct sockaddr *)&a, S.addrlen) < 0 || (proto == P_TCP && listen(fd, 1024) < 0)) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

// Sockets take the lowest free fd: one this high means the process is close
// to its open-file limit. Keep the last eighth (at least 256) for the main
// thread's connections and files; a listener that would eat into it is
// treated as throttled (the client's SYN retry finds room later).
static int fd_scarce(int fd) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  long reserve = (long)rl.rlim_cur / 8;
  if (reserve < 256) reserve = 256;
  return (long)fd >= (long)rl.rlim_cur - reserve;
}

static void hand_over(int port, int proto, int fd) {
  handoff_t *h = malloc(sizeof *h);
  if (!h) {
    if (fd >= 0) close(fd);
    return;
  }
  h->port = port;
  h->proto = proto;
  h->fd = fd;
  if (napi_call_threadsafe_function(S.tsfn, h, napi_tsfn_nonblocking) != napi_ok) {
    // JS is going away: nobody will adopt it.
    if (fd >= 0) close(fd);
    free(h);
  }
}

// One packet: decide, act, and give its one verdict.
static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) {
    atomic_fetch_add(&S.errors, 1);
    return 0;
  }
  uint32_t id = ntohl(ph->packet_id);
  atomic_fetch_add(&S.packets, 1);
  unsigned char *payload = NULL;
  int len = nfq_get_payload(nfa, &payload);
  int proto = 0, dport = 0, syn = 0, accept = 1;
  if (len < 0 || !parse(payload, len, &proto, &dport, &syn)) {
    atomic_fetch_add(&S.unparsed, 1);
  } else if (atomic_load(&S.stopping) || (proto == P_TCP && !syn)) {
    // accept untouched
  } else if (S.excluded[proto][dport]) {
    atomic_fetch_add(&S.excl, 1);
  } else {
    pthread_mutex_lock(&S.mu);
    int known = S.bound[proto][dport], full = S.marked >= S.max_marked;
    pthread_mutex_unlock(&S.mu);
    if (!known) {
      double t0 = realtime_ms();
      struct timeval arrived;
      if (nfq_get_timestamp(nfa, &arrived) == 0 && arrived.tv_sec > 0)
        count_ms(S.wait_hist, t0 - (arrived.tv_sec * 1e3 + arrived.tv_usec / 1e3));
      int fd = -1;
      if (full || !take_token()) {
        fd = -EAGAIN;
      } else {
        fd = open_socket(dport, proto);
        if (fd >= 0 && fd_scarce(fd)) {
          close(fd);
          fd = -EAGAIN;
        } else if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
          fd = -EAGAIN;
        }
      }
      if (fd == -EAGAIN) {
        // Throttled: too many new listeners per second, too many not yet
        // adopted, or too few file descriptors left.
        atomic_fetch_add(&S.throttled, 1);
        accept = S.throttled_accept;
      } else {
        if (fd >= 0) {
          pthread_mutex_lock(&S.mu);
          S.bound[proto][dport] = 1;
          S.marked++;
          pthread_mutex_unlock(&S.mu);
          atomic_fetch_add(&S.opened, 1);
        } else {
          atomic_fetch_add(&S.failed, 1);
        }
        // The verdict first: JS learns about the socket afterwards.
        if (nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL) < 0) {
          atomic_fetch_add(&S.errors, 1);
        } else {
          atomic_fetch_add(&S.accepted, 1);
        }
        count_ms(S.work_hist, realtime_ms() - t0);
        hand_over(dport, proto, fd);
        return 0;
      }
    }
  }
  if (nfq_set_verdict(qh, id, accept ? NF_ACCEPT : NF_DROP, 0, NULL) < 0)
    atomic_fetch_add(&S.errors, 1);
  else
    atomic_fetch_add(accept ? &S.accepted : &S.dropped, 1);
  return 0;
}

static void *reader(void *arg) {
  static char buf[256 * 1024] __attribute__((aligned));
  for (;;) {
    int n = recv(S.nlfd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN) continue;
      atomic_fetch_add(&S.errors, 1);
      usleep(1000);
      continue;
    }
    nfq_handle_packet(S.h, buf, n);
  }
  return NULL;
}

// ------------------------------------------------------------------ N-API

#define CHECK(call)                                                       \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      napi_throw_error(env, NULL, "nfq_reader: " #call " failed");        \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  handoff_t *h = data;
  if (env == NULL || cb == NULL) {
    if (h->fd >= 0) close(h->fd);
    free(h);
    return;
  }
  napi_value undefined, argv[3];
  napi_get_undefined(env, &undefined);
  napi_create_int32(env, h->port, &argv[0]);
  napi_create_int32(env, h->proto, &argv[1]);
  napi_create_int32(env, h->fd, &argv[2]);
  free(h);
  napi_call_function(env, undefined, cb, 3, argv, NULL);
}

static int get_num(napi_env env, napi_value obj, const char *name, double *out) {
  napi_value v;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return 0;
  return napi_get_value_double(env, v, out) == napi_ok;
}

static int get_ports(napi_env env, napi_value obj, const char *name, int proto) {
  napi_value arr;
  uint32_t n = 0;
  if (napi_get_named_property(env, obj, name, &arr) != napi_ok) return 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    uint32_t port;
    if (napi_get_element(env, arr, i, &v) != napi_ok || napi_get_value_uint32(env, v, &port) != napi_ok) return 0;
    if (port < 65536) S.excluded[proto][port] = 1;
  }
  return 1;
}

// start({queue, bufferSize, address, rate, burst, throttledAccept, maxListeners, excludeTcp, excludeUdp}, onBound)
static napi_value Start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (S.running) {
    napi_throw_error(env, NULL, "the nfqueue reader thread is already running");
    return NULL;
  }
  double queue, bufsize, rate, burst, tacc, maxl;
  char address[64];
  size_t alen = 0;
  napi_value addrv;
  if (argc < 2 || !get_num(env, argv[0], "queue", &queue) || !get_num(env, argv[0], "bufferSize", &bufsize) ||
      !get_num(env, argv[0], "rate", &rate) || !get_num(env, argv[0], "burst", &burst) ||
      !get_num(env, argv[0], "throttledAccept", &tacc) || !get_num(env, argv[0], "maxListeners", &maxl) ||
      napi_get_named_property(env, argv[0], "address", &addrv) != napi_ok ||
      napi_get_value_string_utf8(env, addrv, address, sizeof address, &alen) != napi_ok) {
    napi_throw_type_error(env, NULL, "start(options, onBound): bad options");
    return NULL;
  }
  memset(S.excluded, 0, sizeof S.excluded);
  memset(S.bound, 0, sizeof S.bound);
  if (!get_ports(env, argv[0], "excludeTcp", P_TCP) || !get_ports(env, argv[0], "excludeUdp", P_UDP)) {
    napi_throw_type_error(env, NULL, "start(options, onBound): bad excluded ports");
    return NULL;
  }
  memset(&S.addr, 0, sizeof S.addr);
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&S.addr;
  struct sockaddr_in *a4 = (struct sockaddr_in *)&S.addr;
  if (inet_pton(AF_INET6, address, &a6->sin6_addr) == 1) {
    S.family = a6->sin6_family = AF_INET6;
    S.addrlen = sizeof *a6;
  } else if (inet_pton(AF_INET, address, &a4->sin_addr) == 1) {
    S.family = a4->sin_family = AF_INET;
    S.addrlen = sizeof *a4;
  } else {
    napi_throw_type_error(env, NULL, "start: address is not an IPv4 or IPv6 address");
    return NULL;
  }
  S.rate = rate;
  S.burst = burst;
  S.tokens = burst;
  S.last = now_s();
  S.throttled_accept = tacc != 0;
  S.marked = 0;
  S.max_marked = (int)maxl + 1024;

  S.h = nfq_open();
  if (!S.h) {
    napi_throw_error(env, NULL, "nfq_open failed");
    return NULL;
  }
  nfq_unbind_pf(S.h, AF_INET);
  nfq_bind_pf(S.h, AF_INET);
  S.qh = nfq_create_queue(S.h, (uint16_t)queue, on_packet, NULL);
  if (!S.qh) {
    char msg[128];
    snprintf(msg, sizeof msg, "nfq_create_queue(%d) failed: %s", (int)queue, strerror(errno));
    nfq_close(S.h);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  // Only the headers are needed: IPv6 extension headers plus TCP/UDP fit in 512 bytes.
  if (nfq_set_mode(S.qh, NFQNL_COPY_PACKET, 512) < 0) {
    nfq_destroy_queue(S.qh);
    nfq_close(S.h);
    napi_throw_error(env, NULL, "nfq_set_mode failed");
    return NULL;
  }
  nfnl_rcvbufsiz(nfq_nfnlh(S.h), (unsigned)bufsize);
  S.nlfd = nfq_fd(S.h);
  int one = 1;
  setsockopt(S.nlfd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
  // Arrival timestamps on packets (for wait_hist): SO_TIMESTAMP on any socket
  // turns on the kernel's receive timestamps.
  setsockopt(S.nlfd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof one);

  // Grow the process's file table now, once: growing it later (fd 64, 128,
  // 256, ... as listeners open) waits for an RCU grace period in a
  // multi-threaded process, milliseconds that a SYN would wait for.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rlim_t top = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1 << 17) ? (1 << 17) : rl.rlim_cur;
    int high = top > 1 ? fcntl(S.nlfd, F_DUPFD_CLOEXEC, (int)top - 1) : -1;
    if (high >= 0) close(high);
  }

  napi_value name;
  CHECK(napi_create_string_utf8(env, "nfq_reader", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &S.tsfn));
  // Does not keep the process alive by itself.
  CHECK(napi_unref_threadsafe_function(env, S.tsfn));
  pthread_mutex_init(&S.mu, NULL);
  atomic_store(&S.stopping, 0);
  if (pthread_create(&S.thread, NULL, reader, NULL) != 0) {
    napi_throw_error(env, NULL, "pthread_create failed");
    return NULL;
  }
  pthread_detach(S.thread);
  S.running = 1;
  return NULL;
}

// release(port, proto): the listener is about to close; the next packet makes a new one.
static napi_value Release(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint32_t port, proto;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_uint32(env, argv[0], &port) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &proto) != napi_ok || port > 65535 || proto > 1) {
    napi_throw_type_error(env, NULL, "release(port, proto)");
    return NULL;
  }
  if (!S.running) return NULL;
  pthread_mutex_lock(&S.mu);
  if (S.bound[proto][port]) S.marked--;
  S.bound[proto][port] = 0;
  pthread_mutex_unlock(&S.mu);
  return NULL;
}

// stop(): from now on every packet is accepted untouched (the queue goes away with the process).
static napi_value Stop(napi_env env, napi_callback_info info) {
  atomic_store(&S.stopping, 1);
  return NULL;
}

static void set_u64(napi_env env, napi_value obj, const char *name, uint64_t v) {
  napi_value n;
  napi_create_double(env, (double)v, &n);
  napi_set_named_property(env, obj, name, n);
}

static napi_value Stats(napi_env env, napi_callback_info info) {
  napi_value o;
  CHECK(napi_create_object(env, &o));
  set_u64(env, o, "packets", atomic_load(&S.packets));
  set_u64(env, o, "accepted", atomic_load(&S.accepted));
  set_u64(env, o, "dropped", atomic_load(&S.dropped));
  set_u64(env, o, "unparsed", atomic_load(&S.unparsed));
  set_u64(env, o, "errors", atomic_load(&S.errors));
  set_u64(env, o, "opened", atomic_load(&S.opened));
  set_u64(env, o, "throttled", atomic_load(&S.throttled));
  set_u64(env, o, "failed", atomic_load(&S.failed));
  set_u64(env, o, "excluded", atomic_load(&S.excl));
  napi_value wait, work;
  napi_create_array_with_length(env, 7, &wait);
  napi_create_array_with_length(env, 7, &work);
  for (uint32_t i = 0; i < 7; i++) {
    napi_value a, b;
    napi_create_double(env, (double)atomic_load(&S.wait_hist[i]), &a);
    napi_create_double(env, (double)atomic_load(&S.work_hist[i]), &b);
    napi_set_element(env, wait, i, a);
    napi_set_element(env, work, i, b);
  }
  napi_set_named_property(env, o, "waitHist", wait);
  napi_set_named_property(env, o, "workHist", work);
  return o;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"start", NULL, Start, NULL, NULL, NULL, napi_default, NULL},
      {"release", NULL, Release, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, Stop, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, Stats, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
