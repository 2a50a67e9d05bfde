-- Dead letters written by the service, for operator engineers fixing their feeds.
CREATE TABLE IF NOT EXISTS {db}.dead_letters
(
    received_at Int64 {codec_delta},
    feed {lc_string},
    reason {lc_string},
    field String,
    error String,
    topic String,
    partition Int32,
    offset Int64,
    raw String {codec_zstd}
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(toDate(toDateTime(intDiv(received_at, 1000))))
ORDER BY (feed, reason, received_at)
