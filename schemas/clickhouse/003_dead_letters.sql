-- Dead letters written by the service, for operator engineers fixing their feeds.
-- ReplacingMergeTree keyed by the record's origin (topic, partition, offset): a
-- record consumed again after a crash writes its dead letter again, and the copies
-- collapse to one (query with FINAL to see them collapsed before the merge runs).
-- Not partitioned: copies received in different months must meet in one partition.
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
ENGINE = ReplacingMergeTree()
ORDER BY (topic, partition, offset)
