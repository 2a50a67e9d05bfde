-- The records behind each case (pseudonymous, as received), for evidence packages.
-- One row per (case, record); re-inserting the same pair is harmless (ReplacingMergeTree).
CREATE TABLE IF NOT EXISTS {db}.case_evidence
(
    case_id String,
    feed {lc_string},
    event_time Int64 {codec_delta},
    record_key String,
    record String {codec_zstd},
    source String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDate(toDateTime(intDiv(event_time, 1000))))
ORDER BY (case_id, event_time, record_key)
