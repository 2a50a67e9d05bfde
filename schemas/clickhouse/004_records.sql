-- Every valid record as received (pseudonymous, unaltered JSON), for evidence
-- packages and analysts: the records behind a case are those of its SIMs or
-- broadcast identities within its time span. ReplacingMergeTree on the Kafka
-- origin makes re-delivered records harmless.
--   record_key: the SIM pseudonym (sms_volume) or MCC-MNC-LAC-CID (measurements)
CREATE TABLE IF NOT EXISTS {db}.records
(
    feed {lc_string},
    record_key String,
    event_time Int64 {codec_delta},
    topic String,
    partition Int32,
    offset Int64,
    record String {codec_zstd}
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDate(toDateTime(intDiv(event_time, 1000))))
ORDER BY (feed, record_key, event_time, topic, partition, offset)
