// The rules T-Pot's logstash pipeline applies to honeytrap's attackers.json,
// restated in JavaScript for the tests (github.com/telekom-security/tpotce,
// docker/elk/logstash/dist/logstash.conf: the Honeytrap input and filter, the
// filters every event goes through; dist/tpot-template.json: the
// Elasticsearch field types). Each rule says where it comes from.
import { isIP } from 'node:net';

/**
 * One line as logstash would index it: the event, its tags, and the problems
 * that would make T-Pot drop it or Elasticsearch refuse a field.
 * @param {string} line
 */
export function tpotEvent(line) {
  /** @type {string[]} */
  const problems = [];
  /** @type {Record<string, any>} */
  let event;
  // input file { codec => json }: a line that is not a JSON object is tagged
  // _jsonparsefailure, and "if "_jsonparsefailure" in [tags] { drop {} }".
  try {
    event = JSON.parse(line);
  } catch (err) {
    return { event: undefined, problems: [`_jsonparsefailure: ${err.message}`] };
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event))
    return { event: undefined, problems: ['_jsonparsefailure: not an object'] };
  // The json codec makes "@timestamp" the event time: an ISO 8601 string, or
  // the event is tagged _timestampparsefailure (and gets the time it was read).
  const ts = event['@timestamp'];
  if (
    typeof ts !== 'string' ||
    !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$/.test(ts)
  )
    problems.push(`_timestampparsefailure: @timestamp ${JSON.stringify(ts)}`);
  // if [type] == "Honeytrap": date { match => [ "timestamp", "ISO8601" ] } finds
  // no "timestamp" field and does nothing; mutate { rename => ... } moves the
  // attack connection's ends to T-Pot's common fields.
  const conn = event.attack_connection ?? {};
  const renames = {
    local_port: 'dest_port',
    local_ip: 'dest_ip',
    remote_port: 'src_port',
    remote_ip: 'src_ip',
  };
  for (const [from, to] of Object.entries(renames)) {
    if (from in conn) {
      event[to] = conn[from];
      delete conn[from];
    }
  }
  // geoip { source => "src_ip" } (City, ASN) and translate (ip_rep) look the
  // source address up: it must be an IPv4 or IPv6 address as text.
  if (typeof event.src_ip !== 'string' || isIP(event.src_ip) === 0)
    problems.push(`src_ip ${JSON.stringify(event.src_ip)} is not an IP address (geoip fails)`);
  // mutate { convert => { "dest_port" => "integer" } }, the same for src_port;
  // tpot-template.json maps both as long: they must be whole numbers.
  for (const f of ['dest_port', 'src_port']) {
    const v = Number(event[f]);
    if (!Number.isInteger(v) || v < 0 || v > 65535)
      problems.push(`${f} ${JSON.stringify(event[f])} does not convert to an integer port`);
    else event[f] = v;
  }
  if (typeof event.dest_ip !== 'string' || isIP(event.dest_ip) === 0)
    problems.push(`dest_ip ${JSON.stringify(event.dest_ip)} is not an IP address`);
  // Dynamic mapping with date_detection and strict_date_optional_time: string
  // fields that look like dates become dates, so start_time and end_time must
  // parse as such.
  for (const f of ['start_time', 'end_time'])
    if (typeof event[f] !== 'string' || Number.isNaN(Date.parse(event[f])))
      problems.push(`${f} ${JSON.stringify(event[f])} is not a date`);
  // mutate { add_field => { "t-pot_ip_ext", "t-pot_ip_int", "t-pot_hostname" } }
  event.type = 'Honeytrap';
  event['t-pot_hostname'] = 'sensor';
  return { event, problems };
}
