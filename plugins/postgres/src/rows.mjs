// A report (the attack and every plugin's record for it) as the statements of
// one transaction. Every INSERT is ON CONFLICT DO NOTHING and the attack's id
// is the attacks table's key, so a report delivered again (at-least-once:
// retried after a failure the plugin could not see the end of) changes
// nothing: either the first transaction committed and everything conflicts,
// or it did not and nothing of it is there.
//
// Rows with many values (records, findings, artifacts) go as one JSON
// parameter each, expanded by jsonb_to_recordset, so a report is at most five
// statements however many findings it has.

/**
 * @typedef {import('@honeytrap/sdk').Attack} Attack
 * @typedef {import('@honeytrap/sdk').PluginRecord} PluginRecord
 * @typedef {import('@honeytrap/sdk').ArtifactInput} ArtifactInput
 * @typedef {{ sql: string, params?: unknown[] }} Statement
 * @typedef {{ storeAttackData?: boolean, storeArtifactData?: boolean }} RowConfig
 */

/**
 * PostgreSQL text and jsonb hold neither NUL nor lone UTF-16 surrogates: NUL
 * becomes U+FFFD, as do unpaired surrogates. (Attack and artifact bytes go
 * as bytea and keep every byte.)
 * @param {string} s
 */
export function pgText(s) {
  return s.toWellFormed().replaceAll('\0', '\uFFFD');
}

/** JSON for a jsonb parameter, every string made storable (keys too). */
export function pgJson(value) {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === 'string') return pgText(v);
    if (v && typeof v === 'object' && !Array.isArray(v))
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [pgText(k), x]));
    return v;
  });
}

const nullableText = (s) => (typeof s === 'string' ? pgText(s) : null);

const INSERT_ATTACK = `INSERT INTO attacks (
  id, sensor, started_at, ended_at, proto, local_address, local_port, remote_address, remote_port,
  mode, template, end_reason, error, received_length, received_truncated, received,
  sent_length, sent_truncated, sent, chunks, extra
) VALUES (
  $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, decode($16, 'base64'),
  $17, $18, decode($19, 'base64'), $20::jsonb, $21::jsonb
) ON CONFLICT (id) DO NOTHING`;

const INSERT_RECORDS = `INSERT INTO plugin_records (
  attack_id, key, plugin, version, status, duration_ms, input_sha256, error_code, error_message
) SELECT $1, r.key, r.plugin, r.version, r.status, r.duration_ms, r.input_sha256, r.error_code, r.error_message
  FROM jsonb_to_recordset($2::jsonb) AS r(key text, plugin text, version text, status text,
    duration_ms integer, input_sha256 text, error_code text, error_message text)
ON CONFLICT (attack_id, key) DO NOTHING`;

const INSERT_FINDINGS = `INSERT INTO findings (
  attack_id, record_key, ordinal, plugin, input_sha256, type, value, byte_offset, meta
) SELECT $1, f.record_key, f.ordinal, f.plugin, f.input_sha256, f.type, f.value, f.byte_offset, f.meta
  FROM jsonb_to_recordset($2::jsonb) AS f(record_key text, ordinal integer, plugin text,
    input_sha256 text, type text, value text, byte_offset integer, meta jsonb)
ON CONFLICT (attack_id, record_key, ordinal) DO NOTHING`;

// An artifact first stored without its bytes gets them when a later report
// brings them (storeArtifactData switched on); stored bytes are never replaced.
const INSERT_ARTIFACTS = `INSERT INTO artifacts (sha256, size, content_type, data)
SELECT a.sha256, a.size, a.content_type, decode(a.data, 'base64')
  FROM jsonb_to_recordset($1::jsonb) AS a(sha256 text, size bigint, content_type text, data text)
ON CONFLICT (sha256) DO UPDATE SET data = EXCLUDED.data
  WHERE artifacts.data IS NULL AND EXCLUDED.data IS NOT NULL`;

const INSERT_ATTACK_ARTIFACTS = `INSERT INTO attack_artifacts (attack_id, sha256, producer, name)
SELECT $1, a.sha256, a.producer, a.name
  FROM jsonb_to_recordset($2::jsonb) AS a(sha256 text, producer text, name text)
ON CONFLICT (attack_id, sha256, producer) DO NOTHING`;

/**
 * The attack's row: its fields, the bytes when storeAttackData.
 * @param {Attack} a
 * @param {boolean} storeData
 * @returns {Statement}
 */
export function attackStatement(a, storeData) {
  const extra = {};
  for (const k of ['peer', 'fallback', 'chunksTruncated', 'replyLimited'])
    if (a[k] !== undefined) extra[k] = a[k];
  return {
    sql: INSERT_ATTACK,
    params: [
      a.id,
      pgText(a.sensor),
      a.startedAt,
      a.endedAt,
      a.proto,
      a.local.address,
      a.local.port,
      a.remote.address,
      a.remote.port,
      a.mode,
      nullableText(a.template),
      a.endReason,
      nullableText(a.error),
      a.received.length,
      a.received.truncated,
      storeData ? a.received.data : null,
      a.sent.length,
      a.sent.truncated,
      storeData ? a.sent.data : null,
      pgJson(a.chunks),
      pgJson(extra),
    ],
  };
}

/**
 * The artifacts the report names: those of every record (with the record's
 * plugin as producer) and those the host sent with their bytes.
 * @param {Record<string, PluginRecord>} records
 * @param {ArtifactInput[]} withData
 */
export function reportArtifacts(records, withData) {
  /** @type {Map<string, { sha256: string, size: number, content_type: string, data: string | null }>} */
  const bySha = new Map();
  /** @type {Map<string, { sha256: string, producer: string, name: string | null }>} */
  const links = new Map();
  const add = (ref, producer, data) => {
    const known = bySha.get(ref.sha256);
    if (!known || (known.data === null && data !== null))
      bySha.set(ref.sha256, {
        sha256: ref.sha256,
        size: ref.size,
        content_type: ref.contentType,
        data,
      });
    const link = `${ref.sha256} ${producer}`;
    if (!links.has(link)) links.set(link, { sha256: ref.sha256, producer, name: ref.name ?? null });
  };
  for (const r of Object.values(records)) for (const ref of r.artifacts) add(ref, r.plugin, null);
  for (const a of withData) add(a, a.producer, a.data);
  return { artifacts: [...bySha.values()], links: [...links.values()] };
}

/**
 * The statements that store one report.
 * @param {{ attack: Attack, records?: Record<string, PluginRecord>, artifacts?: ArtifactInput[] }} report
 * @param {RowConfig} config
 * @returns {Statement[]}
 */
export function reportStatements(report, config) {
  const { attack } = report;
  const records = report.records ?? {};
  const recordRows = [];
  const findingRows = [];
  for (const [key, r] of Object.entries(records)) {
    recordRows.push({
      key,
      plugin: r.plugin,
      version: r.version,
      status: r.status,
      duration_ms: r.durationMs,
      input_sha256: r.input ?? null,
      error_code: r.error?.code ?? null,
      error_message: r.error?.message ?? null,
    });
    r.findings.forEach((f, ordinal) =>
      findingRows.push({
        record_key: key,
        ordinal,
        plugin: r.plugin,
        input_sha256: r.input ?? null,
        type: f.type,
        value: f.value,
        byte_offset: f.offset ?? null,
        meta: f.meta ?? null,
      }),
    );
  }
  const withData = config.storeArtifactData ? (report.artifacts ?? []) : [];
  const { artifacts, links } = reportArtifacts(records, withData);
  /** @type {Statement[]} */
  const statements = [attackStatement(attack, config.storeAttackData !== false)];
  if (recordRows.length)
    statements.push({ sql: INSERT_RECORDS, params: [attack.id, pgJson(recordRows)] });
  if (findingRows.length)
    statements.push({ sql: INSERT_FINDINGS, params: [attack.id, pgJson(findingRows)] });
  if (artifacts.length) {
    statements.push({ sql: INSERT_ARTIFACTS, params: [pgJson(artifacts)] });
    statements.push({ sql: INSERT_ATTACK_ARTIFACTS, params: [attack.id, pgJson(links)] });
  }
  return statements;
}
