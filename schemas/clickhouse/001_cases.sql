-- Cases: one row per snapshot; ReplacingMergeTree keeps the highest `version`
-- (event-time based), so re-delivered or re-emitted snapshots never show twice.
-- Query with FINAL (or argMax by version) to see one row per case.
-- Placeholders are filled by `cellwatch migrate` after detecting the server version:
--   {db}            database name
--   {lc_string}     LowCardinality(String) on servers that have it, else String
--   {codec_delta}   CODEC(Delta, ZSTD) on servers with column codecs, else empty
--   {codec_zstd}    CODEC(ZSTD) on servers with column codecs, else empty
CREATE TABLE IF NOT EXISTS {db}.cases
(
    case_id String,
    kind {lc_string},
    status {lc_string},
    opened_at Int64 {codec_delta},
    first_seen Int64 {codec_delta},
    last_seen Int64 {codec_delta},
    score Float64,
    operator {lc_string},
    sims Array(String),
    claimed_cell String,
    identities String,
    location_lat Nullable(Float64),
    location_lon Nullable(Float64),
    location_radius_m Nullable(Float64),
    track String {codec_zstd},
    reason_codes Array(String),
    reason_values Array(Float64),
    reason_thresholds Array(Float64),
    evidence_count UInt64,
    case_json String {codec_zstd},
    version UInt64,
    opened_day Date MATERIALIZED toDate(toDateTime(intDiv(opened_at, 1000)))
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(toDate(toDateTime(intDiv(opened_at, 1000))))
ORDER BY (kind, case_id)
