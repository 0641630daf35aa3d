// log-json: one JSON object per line for every attack, in the field layout of
// honeytrap's logJSON module as T-Pot builds it (github.com/t3chn0m4g3/honeytrap,
// src/modules/htm_logJSON.c, logjson 1.1.0) and as T-Pot's logstash pipeline
// reads /data/honeytrap/log/attackers.json. See README.md for the fields and
// where each comes from.
//
// An output plugin: it consumes reports (the attack once every analysis plugin
// is done with it, with every plugin's record and the artifacts' bytes) and
// appends to a file in its own folder through ctx.files, rotated by size.
//
// This file is the plugin as shipped: it must stand alone (no imports but
// allowed node: builtins). The named exports are for its tests.
import { createHash } from 'node:crypto';

/** @typedef {import('@honeytrap/sdk').WorkerPlugin} WorkerPlugin */
/** @typedef {import('@honeytrap/sdk').Attack} Attack */
/** @typedef {import('@honeytrap/sdk').PluginRecord} PluginRecord */
/** @typedef {import('@honeytrap/sdk').ArtifactInput} ArtifactInput */

/** honeytrap's PORTCONF_* values (src/honeytrap.h), which logJSON writes as operation_mode. */
export const OPERATION_MODE = { normal: 1, ignore: 2, mirror: 4, proxy: 8 };

const DEFAULT_PORT = { http: 80, https: 443, ftp: 21, tftp: 69 };

/** honeytrap's timestamps: strftime("%FT%TZ", gmtime(t)), whole seconds, UTC. */
export function isoSeconds(iso) {
  return `${new Date(iso).toISOString().slice(0, 19)}Z`;
}

/** The payload object honeytrap writes for a byte string. */
export function payload(bytes) {
  return {
    md5_hash: createHash('md5').update(bytes).digest('hex'),
    sha512_hash: createHash('sha512').update(bytes).digest('hex'),
    length: bytes.length,
    data_hex: Buffer.from(bytes).toString('hex'),
  };
}

/** A connection object: protocol name, both ends, what went over it. */
function connection(protocol, remote, local, bytes) {
  return {
    protocol,
    remote_ip: remote.address,
    remote_port: remote.port,
    local_ip: local.address,
    local_port: local.port,
    payload: payload(bytes),
  };
}

const NO_ENDPOINT = { address: '0.0.0.0', port: 0 };

/**
 * honeytrap's proxy_connection: the mirror or proxy peer and what it answered
 * (forwarded to the attacker). Without one honeytrap writes a zeroed record
 * (protocol 0 is "ip" in /etc/protocols), and so do we. The local end of our
 * connection to the peer is not recorded: 0.0.0.0 (:: for an IPv6 peer), port 0.
 * @param {Attack} attack
 */
function proxyConnection(attack) {
  if (!attack.peer || attack.fallback)
    return connection('ip', NO_ENDPOINT, NO_ENDPOINT, Buffer.alloc(0));
  const local = attack.peer.address.includes(':') ? { address: '::', port: 0 } : NO_ENDPOINT;
  return connection(attack.proto, attack.peer, local, Buffer.from(attack.sent.data, 'base64'));
}

/**
 * Every download the download plugins recorded for this attack, attempts that
 * failed included, in a stable order (records by name, findings in order).
 * @param {Record<string, PluginRecord>} records
 */
export function downloadFindings(records) {
  return Object.keys(records)
    .sort()
    .flatMap((k) => records[k].findings.filter((f) => f.type === 'download'));
}

/** A download finding's URL, or undefined when it is not one we can read. */
function parseUrl(value) {
  try {
    const u = new URL(value);
    const scheme = u.protocol.slice(0, -1);
    return scheme in DEFAULT_PORT ? { u, scheme } : undefined;
  } catch {
    return undefined;
  }
}

const decode = (s) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/**
 * honeytrap's download object (htm_logJSON.c convert_download_to_json) for a
 * download that brought a file: the server it came from, the attacked address
 * (honeytrap's add_download copies a_conn.l_addr/l_port), type, credentials,
 * URI, file name and the file itself.
 * @param {import('@honeytrap/sdk').Finding} f
 * @param {Buffer | undefined} bytes the file, when the report carries it
 * @param {Attack} attack
 */
function download(f, bytes, attack) {
  const meta = f.meta ?? {};
  // after an http redirect, the server the file came from is finalUrl's
  const parsed = parseUrl(typeof meta.finalUrl === 'string' ? meta.finalUrl : f.value);
  const scheme = parsed?.scheme ?? 'http';
  const u = parsed?.u;
  const host = u ? u.hostname.replace(/^\[|\]$/g, '') : '';
  const file = bytes
    ? payload(bytes)
    : {
        md5_hash: String(meta.md5 ?? ''),
        sha512_hash: String(meta.sha512 ?? ''),
        length: Number(meta.size ?? 0),
        data_hex: '',
      };
  return {
    protocol: scheme === 'tftp' ? 'udp' : 'tcp',
    remote_ip: typeof meta.address === 'string' ? meta.address : host,
    remote_port: u ? Number(u.port || DEFAULT_PORT[scheme]) : 0,
    local_ip: attack.local.address,
    local_port: attack.local.port,
    type: scheme,
    username: u ? decode(u.username) : '',
    password: u ? decode(u.password) : '',
    uri: f.value,
    filename: u ? decode(u.pathname.slice(u.pathname.lastIndexOf('/') + 1)) : '',
    payload: file,
  };
}

/**
 * The line for one report: the JSON object T-Pot's logstash reads, then "\n".
 * Key order is honeytrap's (json-c keeps insertion order).
 * @param {{ attack: Attack, records?: Record<string, PluginRecord>, artifacts?: ArtifactInput[] }} input
 */
export function jsonLine(input) {
  const { attack } = input;
  const found = downloadFindings(input.records ?? {});
  const bytesOf = new Map((input.artifacts ?? []).map((a) => [a.sha256, a.data]));
  // T-Pot's honeytrap flattens the downloads array into one object whose keys
  // carry the download's index ("uri_0", "payload_1"), so Elasticsearch sees
  // fixed fields rather than an array of objects.
  /** @type {Record<string, unknown>} */
  const downloads = {};
  let n = 0;
  for (const f of found) {
    // download_count and the fields count the downloads that brought a file;
    // download_tries every attempt (honeytrap's dl_count and dl_tries)
    if (f.meta?.status !== 'ok') continue;
    const data = bytesOf.get(String(f.meta.sha256));
    const d = download(f, data === undefined ? undefined : Buffer.from(data, 'base64'), attack);
    for (const [k, v] of Object.entries(d)) downloads[`${k}_${n}`] = v;
    n++;
  }
  const received = Buffer.from(attack.received.data, 'base64');
  const mode = attack.fallback ? 'normal' : attack.mode;
  const record = {
    is_virtual: false,
    '@timestamp': isoSeconds(attack.startedAt),
    start_time: isoSeconds(attack.startedAt),
    end_time: isoSeconds(attack.endedAt),
    attack_connection: connection(attack.proto, attack.remote, attack.local, received),
    proxy_connection: proxyConnection(attack),
    operation_mode: OPERATION_MODE[mode],
    download_count: n,
    download_tries: found.length,
    downloads,
  };
  return `${JSON.stringify(record)}\n`;
}

/** @type {WorkerPlugin<{ file: string, maxBytes: number, keep: number }>} */
export default {
  async analyze(input, ctx) {
    if (input.kind !== 'report') return;
    const { file, maxBytes, keep } = ctx.config;
    await ctx.files.append(file, jsonLine(input), { rotate: { maxBytes, keep } });
  },
};
