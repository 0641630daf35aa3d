-- honeytrap-ts postgres plugin, migration 1: attacks, plugin records,
-- findings, artifacts. The plugin applies migrations in order, each in a
-- transaction with the row that records it in schema_migrations, under an
-- advisory lock; IF NOT EXISTS everywhere so that running this file by hand
-- on a database that has it changes nothing.

-- One row per attack string; id is the attack's ULID, so a report delivered
-- twice (at-least-once) inserts nothing the second time.
CREATE TABLE IF NOT EXISTS attacks (
  id text PRIMARY KEY CHECK (id ~ '^[0-9A-HJKMNP-TV-Z]{26}$'),
  sensor text NOT NULL,
  started_at timestamptz NOT NULL,
  ended_at timestamptz NOT NULL,
  proto text NOT NULL CHECK (proto IN ('tcp', 'udp')),
  local_address inet NOT NULL,
  local_port integer NOT NULL,
  remote_address inet NOT NULL,
  remote_port integer NOT NULL,
  mode text NOT NULL,
  template text,
  end_reason text NOT NULL,
  error text,
  -- bytes seen in each direction; the kept bytes (at most the port's read
  -- limit) are NULL when the plugin's storeAttackData is false
  received_length integer NOT NULL,
  received_truncated boolean NOT NULL,
  received bytea,
  sent_length integer NOT NULL,
  sent_truncated boolean NOT NULL,
  sent bytea,
  chunks jsonb NOT NULL,
  -- what only some attacks have: peer, fallback, chunksTruncated, replyLimited
  extra jsonb NOT NULL DEFAULT '{}',
  stored_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS attacks_started_at ON attacks (started_at);
CREATE INDEX IF NOT EXISTS attacks_remote ON attacks (remote_address, started_at);
CREATE INDEX IF NOT EXISTS attacks_local_port ON attacks (local_port, started_at);

-- What each plugin task recorded for the attack: key is the plugin's name, or
-- name@<first 12 hex of the sha256> for a task on one of its artifacts.
CREATE TABLE IF NOT EXISTS plugin_records (
  attack_id text NOT NULL REFERENCES attacks (id) ON DELETE CASCADE,
  key text NOT NULL,
  plugin text NOT NULL,
  version text NOT NULL,
  status text NOT NULL CHECK (status IN ('ok', 'error')),
  duration_ms integer NOT NULL,
  input_sha256 text,
  error_code text,
  error_message text,
  PRIMARY KEY (attack_id, key)
);

-- One row per finding, in the order the plugin returned them (ordinal).
CREATE TABLE IF NOT EXISTS findings (
  attack_id text NOT NULL,
  record_key text NOT NULL,
  ordinal integer NOT NULL,
  plugin text NOT NULL,
  input_sha256 text,
  type text NOT NULL,
  value text NOT NULL,
  byte_offset integer,
  meta jsonb,
  PRIMARY KEY (attack_id, record_key, ordinal),
  FOREIGN KEY (attack_id, record_key) REFERENCES plugin_records (attack_id, key) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS findings_type_value ON findings (type, value);

-- Artifacts by content (the same bytes once, however many attacks bring
-- them); data is NULL unless the plugin's storeArtifactData is true.
CREATE TABLE IF NOT EXISTS artifacts (
  sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size bigint NOT NULL,
  content_type text NOT NULL,
  data bytea,
  first_seen timestamptz NOT NULL DEFAULT now()
);

-- Which attack brought which artifact, and the plugin that wrote it.
CREATE TABLE IF NOT EXISTS attack_artifacts (
  attack_id text NOT NULL REFERENCES attacks (id) ON DELETE CASCADE,
  sha256 text NOT NULL REFERENCES artifacts (sha256),
  producer text NOT NULL,
  name text,
  PRIMARY KEY (attack_id, sha256, producer)
);
CREATE INDEX IF NOT EXISTS attack_artifacts_sha256 ON attack_artifacts (sha256);
