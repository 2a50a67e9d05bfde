-- Case lifecycle audit trail: append-only, one row per status change
-- (open -> handed_over -> confirmed | dismissed), with who, when and a note.
CREATE TABLE IF NOT EXISTS {db}.case_status_log
(
    case_id String,
    from_status {lc_string},
    to_status {lc_string},
    actor String,
    note String,
    changed_at Int64 {codec_delta}
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(toDate(toDateTime(intDiv(changed_at, 1000))))
ORDER BY (case_id, changed_at)
