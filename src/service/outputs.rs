//! Where a flushed batch goes: the batch store (ClickHouse, or memory for the demo),
//! the cases topic and the dead-letter topic. A batch is acknowledged only when
//! every step has succeeded; steps already done are not repeated on retry.

use super::metrics::{KindLabel, Metrics, SinkLabel};
use super::stage::OutMessage;
use super::stage_time::Step;
use crate::cases::CaseBook;
use crate::config::{SinkConfig, TopicsConfig};
use crate::ingest::Origin;
use crate::kafka_failure::WatchedContext;
use crate::model::Case;
use crate::sink::clickhouse::{CaseRow, ClickHouse, ClickHouseError, DeadLetterRow, RecordArchive};
use crate::validate::DeadLetter;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Errors of one flush attempt.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SinkError {
    #[error(transparent)]
    ClickHouse(#[from] ClickHouseError),
    #[error("kafka delivery to {topic} failed: {message}")]
    Kafka { topic: String, message: String },
    /// The flush of an earlier batch failed for good: this one's ordered steps
    /// must not run (the service is stopping).
    #[error("an earlier batch's flush failed")]
    Abandoned,
}

/// Batch store of the demo without ClickHouse: keeps the final snapshot of every case
/// in memory; the demo writes it to files at the end.
#[derive(Clone, Default)]
pub struct MemoryStore {
    pub(crate) book: Arc<Mutex<CaseBook>>,
}

/// Where the service stores a flushed batch: ClickHouse (archived records, cases,
/// dead letters) or, for the demo without ClickHouse, memory (cases only). Not to
/// be confused with `inspect::CaseStore`, which reads stored cases back.
#[derive(Clone)]
pub enum BatchStore {
    ClickHouse(Box<ClickHouse>),
    Memory(MemoryStore),
}

/// What the pipeline produced since the last flush, and the offsets it covers.
#[derive(Default)]
pub(crate) struct Batch {
    /// Each case touched in this batch, its snapshots merged ([`Case::merge_newer`]).
    pub(crate) cases: BTreeMap<String, Case>,
    pub(crate) dead: Vec<DeadLetter>,
    /// Valid records to archive (ClickHouse `records`), the evidence behind cases,
    /// RowBinary-encoded as they are consumed.
    pub(crate) archive: RecordArchive,
    /// Messages for the internal topics (stage ingest), in the order produced.
    pub(crate) envelopes: Vec<OutMessage>,
    /// Next offset to consume, per (topic, partition): stored after the flush.
    pub(crate) offsets: BTreeMap<(String, i32), i64>,
    /// Stage ingest: each partition's highest admitted event time after the batch's
    /// last record, committed with its offset ([`super::checkpoint`]).
    pub(crate) checkpoints: BTreeMap<(String, i32), i64>,
    pub(crate) records: usize,
    pub(crate) started: Option<Instant>,
    /// The batch's latest burst was a full one (`sink.consume_burst` records
    /// already waiting): the consumer is draining a backlog, so case snapshots
    /// wait for a full-sized batch instead of `sink.case_flush_ms`.
    pub(crate) behind: bool,
    /// The consumer's generation ([`super::consumer::WorkerContext::generation`])
    /// when the batch took its first record: its offsets are stored only for
    /// partitions not revoked since.
    pub(crate) generation: u64,
    done: Steps,
}

#[derive(Default, Clone, Copy)]
struct Steps {
    records_stored: bool,
    cases_stored: bool,
    dead_stored: bool,
    envelopes_produced: bool,
    cases_produced: bool,
    dead_produced: bool,
}

impl Batch {
    pub(crate) fn is_empty(&self) -> bool {
        self.records == 0
            && self.cases.is_empty()
            && self.dead.is_empty()
            && self.envelopes.is_empty()
    }

    pub(crate) fn note_record(&mut self, topic: &str, partition: i32, offset: i64) {
        self.records += 1;
        self.started.get_or_insert_with(Instant::now);
        // A handful of partitions per batch: a scan finds the entry without
        // allocating its key.
        let found = self
            .offsets
            .iter_mut()
            .find(|((t, p), _)| *p == partition && t == topic);
        match found {
            Some((_, next)) => *next = (*next).max(offset + 1),
            None => {
                self.offsets
                    .insert((topic.to_string(), partition), offset + 1);
            }
        }
    }

    /// Empty the batch for reuse, keeping the capacity of its buffers.
    pub(crate) fn reset(&mut self) {
        self.cases.clear();
        self.dead.clear();
        self.archive.clear();
        self.envelopes.clear();
        self.offsets.clear();
        self.checkpoints.clear();
        self.records = 0;
        self.started = None;
        self.behind = false;
        self.done = Steps::default();
    }
}

impl crate::detect::CaseSink for Batch {
    fn emit(&mut self, case: Case) {
        match self.cases.get_mut(&case.case_id) {
            Some(known) => known.merge_newer(case),
            None => {
                self.cases.insert(case.case_id.clone(), case);
            }
        }
    }
}

/// The sinks of a running service.
pub(crate) struct Outputs {
    pub(crate) store: BatchStore,
    producer: FutureProducer<WatchedContext>,
    topics: TopicsConfig,
    config: SinkConfig,
    metrics: Metrics,
}

impl Outputs {
    pub(crate) fn new(
        store: BatchStore,
        producer: FutureProducer<WatchedContext>,
        topics: TopicsConfig,
        config: SinkConfig,
        metrics: Metrics,
    ) -> Self {
        Outputs {
            store,
            producer,
            topics,
            config,
            metrics,
        }
    }

    /// One attempt at flushing every pending step of the batch. The archive goes
    /// first and may overlap an earlier batch's flush (its rows are idempotent by
    /// origin and unordered); every other step waits until `previous` (the earlier
    /// batch's flush) says it is through, so cases and dead letters reach their
    /// table and topics in batch order.
    pub(crate) async fn flush(
        &self,
        batch: &mut Batch,
        previous: &mut Option<tokio::sync::watch::Receiver<bool>>,
    ) -> Result<(), SinkError> {
        if !batch.done.records_stored {
            self.store_records(&mut batch.archive).await?;
            batch.done.records_stored = true;
        }
        if let Some(prev) = previous {
            if prev.wait_for(|through| *through).await.is_err() {
                return Err(SinkError::Abandoned);
            }
        }
        *previous = None;
        let t = Instant::now();
        let cases: Vec<Case> = batch.cases.values().cloned().collect();
        self.metrics.stages.lap(Step::EncodeCases, t);
        if !batch.done.cases_stored {
            self.store_cases(&cases).await?;
            batch.done.cases_stored = true;
        }
        if !batch.done.dead_stored {
            self.store_dead_letters(&batch.dead).await?;
            batch.done.dead_stored = true;
        }
        if !batch.done.envelopes_produced {
            self.produce_envelopes(&batch.envelopes).await?;
            batch.done.envelopes_produced = true;
        }
        if !batch.done.cases_produced {
            self.produce_cases(&cases).await?;
            batch.done.cases_produced = true;
        }
        if !batch.done.dead_produced {
            self.produce_dead_letters(&batch.dead).await?;
            batch.done.dead_produced = true;
        }
        Ok(())
    }

    /// Archived records go to ClickHouse (with `sink.archive_records`), with
    /// `sink.sort_archive` sorted first by the table's key so that the server need
    /// not sort them.
    async fn store_records(&self, archive: &mut RecordArchive) -> Result<(), SinkError> {
        if let (BatchStore::ClickHouse(ch), true) = (&self.store, self.config.archive_records) {
            let t0 = Instant::now();
            if self.config.sort_archive {
                archive.sort_by_key();
            }
            let t = self.metrics.stages.lap(Step::SortRecords, t0);
            ch.insert_archive(archive).await?;
            self.observe("record_archive", t0);
            self.metrics.stages.lap(Step::InsertRecords, t);
        }
        Ok(())
    }

    async fn store_cases(&self, cases: &[Case]) -> Result<(), SinkError> {
        let t = Instant::now();
        match &self.store {
            BatchStore::ClickHouse(ch) => {
                let rows: Vec<CaseRow> = cases.iter().map(CaseRow::from_case).collect();
                let encoded = self.metrics.stages.lap(Step::EncodeCases, t);
                ch.insert_rows("cases", &rows).await?;
                self.metrics.stages.lap(Step::InsertCases, encoded);
            }
            BatchStore::Memory(m) => {
                let mut book = m.book.lock().expect("case book lock");
                for c in cases {
                    book.upsert(c.clone());
                }
            }
        }
        self.observe("case_store", t);
        Ok(())
    }

    /// Dead letters go to ClickHouse (with `sink.dead_letters_to_clickhouse`).
    async fn store_dead_letters(&self, dead: &[DeadLetter]) -> Result<(), SinkError> {
        if let (BatchStore::ClickHouse(ch), true) =
            (&self.store, self.config.dead_letters_to_clickhouse)
        {
            let t = Instant::now();
            let now = chrono::Utc::now().timestamp_millis();
            let rows: Vec<DeadLetterRow> = dead.iter().map(|d| dead_row(d, now)).collect();
            let encoded = self.metrics.stages.lap(Step::EncodeCases, t);
            ch.insert_dead_letters(&rows).await?;
            self.observe("dead_letter_store", t);
            self.metrics.stages.lap(Step::InsertDeadLetters, encoded);
        }
        Ok(())
    }

    async fn produce_cases(&self, cases: &[Case]) -> Result<(), SinkError> {
        let t = Instant::now();
        let payloads: Vec<(String, String)> = cases
            .iter()
            .map(|c| {
                (
                    c.case_id.clone(),
                    serde_json::to_string(c).unwrap_or_default(),
                )
            })
            .collect();
        let encoded = self.metrics.stages.lap(Step::EncodeCases, t);
        self.produce_all(&self.topics.cases, &payloads).await?;
        self.observe("cases_topic", t);
        self.metrics.stages.lap(Step::ProduceTopics, encoded);
        for c in cases {
            self.metrics
                .cases
                .get_or_create(&KindLabel {
                    kind: c.kind.as_str().into(),
                })
                .inc();
        }
        Ok(())
    }

    async fn produce_dead_letters(&self, dead: &[DeadLetter]) -> Result<(), SinkError> {
        let t = Instant::now();
        let payloads: Vec<(String, String)> = dead
            .iter()
            .map(|d| (dead_key(d), serde_json::to_string(d).unwrap_or_default()))
            .collect();
        let encoded = self.metrics.stages.lap(Step::EncodeCases, t);
        self.produce_all(&self.topics.dead_letter, &payloads)
            .await?;
        self.observe("dead_letter_topic", t);
        self.metrics.stages.lap(Step::ProduceTopics, encoded);
        Ok(())
    }

    /// Hand the internal-topic messages to the producer strictly in order (a full
    /// queue is waited out before the next message, never skipped), then wait for
    /// every acknowledgement: stage detect relies on each source's events arriving
    /// in offset order.
    async fn produce_envelopes(&self, messages: &[OutMessage]) -> Result<(), SinkError> {
        if messages.is_empty() {
            return Ok(());
        }
        let t = Instant::now();
        let mut acks = Vec::with_capacity(messages.len());
        for m in messages {
            loop {
                let mut record = FutureRecord::to(&m.topic)
                    .partition(m.partition)
                    .payload(&m.payload);
                if let Some(k) = &m.key {
                    record = record.key(k);
                }
                match self.producer.send_result(record) {
                    Ok(ack) => {
                        acks.push(ack);
                        break;
                    }
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull,
                        ),
                        _,
                    )) => tokio::time::sleep(Duration::from_millis(5)).await,
                    Err((e, _)) => {
                        return Err(SinkError::Kafka {
                            topic: m.topic.clone(),
                            message: e.to_string(),
                        })
                    }
                }
            }
        }
        for ack in acks {
            let failed = match ack.await {
                Ok(Ok(_)) => None,
                Ok(Err((e, _))) => Some(e.to_string()),
                Err(_) => Some("delivery cancelled".to_string()),
            };
            if let Some(message) = failed {
                return Err(SinkError::Kafka {
                    topic: messages[0].topic.clone(),
                    message,
                });
            }
        }
        self.observe("internal_topic", t);
        self.metrics.stages.lap(Step::ProduceEnvelopes, t);
        Ok(())
    }

    fn observe(&self, sink: &str, t: Instant) {
        self.metrics
            .sink_latency
            .get_or_create(&SinkLabel { sink: sink.into() })
            .observe(t.elapsed().as_secs_f64());
    }

    pub(crate) fn count_retry(&self, err: &SinkError) {
        let sink = match err {
            SinkError::ClickHouse(_) => "clickhouse",
            SinkError::Kafka { .. } | SinkError::Abandoned => "kafka",
        };
        self.metrics
            .sink_retries
            .get_or_create(&SinkLabel { sink: sink.into() })
            .inc();
    }

    async fn produce_all(
        &self,
        topic: &str,
        payloads: &[(String, String)],
    ) -> Result<(), SinkError> {
        let futures = payloads.iter().map(|(key, payload)| {
            self.producer.send(
                FutureRecord::to(topic).key(key).payload(payload),
                Duration::from_secs(30),
            )
        });
        for result in futures_util::future::join_all(futures).await {
            if let Err((e, _)) = result {
                return Err(SinkError::Kafka {
                    topic: topic.to_string(),
                    message: e.to_string(),
                });
            }
        }
        Ok(())
    }
}

fn dead_key(d: &DeadLetter) -> String {
    match &d.origin {
        Origin::Kafka {
            topic,
            partition,
            offset,
        } => format!("{topic}/{partition}/{offset}"),
        Origin::File { file, line } => format!("{file}:{line}"),
    }
}

fn dead_row(d: &DeadLetter, received_at: i64) -> DeadLetterRow {
    let (topic, partition, offset) = match &d.origin {
        Origin::Kafka {
            topic,
            partition,
            offset,
        } => (topic.clone(), *partition, *offset),
        Origin::File { file, line } => (file.clone(), -1, *line as i64),
    };
    DeadLetterRow {
        received_at,
        feed: d.feed.name().to_string(),
        reason: d.reason.to_string(),
        field: d.field.clone().unwrap_or_default(),
        error: d.error.clone(),
        topic,
        partition,
        offset,
        raw: d
            .raw
            .clone()
            .or_else(|| d.raw_base64.clone())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::CaseSink;

    fn snapshot(first_seen: i64, last_seen: i64, evidence_count: u64) -> Case {
        serde_json::from_value(serde_json::json!({
            "case_id": "spam-1", "kind": "spam_sim", "opened_at": last_seen,
            "first_seen": first_seen, "last_seen": last_seen, "score": 1.0,
            "reasons": [], "evidence_count": evidence_count,
        }))
        .expect("a valid case")
    }

    #[test]
    fn a_batch_merges_the_snapshots_of_a_case_like_the_case_book() {
        let snapshots = [snapshot(100, 900, 5), snapshot(50, 700, 6)];
        let mut batch = Batch::default();
        let mut book = CaseBook::new();
        for s in snapshots {
            batch.emit(s.clone());
            book.emit(s);
        }
        let merged = &batch.cases["spam-1"];
        assert_eq!((merged.first_seen, merged.last_seen), (50, 900));
        assert_eq!(merged.evidence_count, 6);
        assert_eq!(book.iter().collect::<Vec<_>>(), vec![merged]);
    }
}
