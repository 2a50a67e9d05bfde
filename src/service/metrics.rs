//! Prometheus metrics of the service (names follow Vector's
//! `component_<thing>_total` style) and the HTTP endpoint that serves them with
//! `/healthz` and `/readyz`.

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TopicLabel {
    pub(crate) topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TopicReasonLabel {
    pub(crate) topic: String,
    pub(crate) reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PartitionLabel {
    pub(crate) topic: String,
    pub(crate) partition: i32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct FeedLabel {
    pub(crate) feed: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KindLabel {
    pub(crate) kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SinkLabel {
    pub(crate) sink: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DetectorLabel {
    pub(crate) detector: String,
}

/// Every metric of the service, cheap to clone (shared handles).
#[derive(Clone)]
pub struct Metrics {
    pub(crate) received: Family<TopicLabel, Counter>,
    pub(crate) valid: Family<TopicLabel, Counter>,
    pub(crate) invalid: Family<TopicReasonLabel, Counter>,
    pub(crate) consumer_lag: Family<PartitionLabel, Gauge>,
    pub(crate) watermark_delay_seconds: Family<FeedLabel, Gauge>,
    pub(crate) state_size: Family<DetectorLabel, Gauge>,
    /// Open cases closed early by a detector's cap (`spam.max_open_cases`).
    pub(crate) open_cases_closed_by_cap: Family<DetectorLabel, Gauge>,
    pub(crate) cases: Family<KindLabel, Counter>,
    pub(crate) sink_latency: Family<SinkLabel, Histogram>,
    pub(crate) sink_retries: Family<SinkLabel, Counter>,
    pub(crate) rebuilt_records: Counter,
    pub(crate) offsets_stored: Counter,
    /// Seconds per stage of the service path (`stage_seconds_total`).
    pub stages: super::stage_time::StageClock,
    /// Records fully processed and acknowledged, each once (the demo and the
    /// backlog bench wait on it).
    pub acknowledged: Arc<Acknowledged>,
    /// Records taken from Kafka and run through the detectors.
    pub processed: Arc<AtomicU64>,
    pub ready: Arc<AtomicBool>,
    /// Where the HTTP endpoint listens once started (port 0 picks a free one).
    pub(crate) http_addr: Arc<std::sync::Mutex<Option<std::net::SocketAddr>>>,
    /// More routes served on the same endpoint (the binary's analyst console).
    extra_routes: Option<Router>,
    registry: Arc<Registry>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("cellwatch");
        let received = Family::<TopicLabel, Counter>::default();
        registry.register(
            "component_received_events",
            "Records read from Kafka",
            received.clone(),
        );
        let valid = Family::<TopicLabel, Counter>::default();
        registry.register(
            "component_valid_events",
            "Records that passed validation",
            valid.clone(),
        );
        let invalid = Family::<TopicReasonLabel, Counter>::default();
        registry.register(
            "component_invalid_events",
            "Records dead-lettered, by reason (late included)",
            invalid.clone(),
        );
        let consumer_lag = Family::<PartitionLabel, Gauge>::default();
        registry.register(
            "consumer_lag_records",
            "Records between the consumer position and the partition end",
            consumer_lag.clone(),
        );
        let watermark_delay_seconds = Family::<FeedLabel, Gauge>::default();
        registry.register(
            "watermark_delay_seconds",
            "Wall clock minus the feed's event-time watermark",
            watermark_delay_seconds.clone(),
        );
        let state_size = Family::<DetectorLabel, Gauge>::default();
        registry.register(
            "detector_open_state",
            "Keys held in detector state",
            state_size.clone(),
        );
        let open_cases_closed_by_cap = Family::<DetectorLabel, Gauge>::default();
        registry.register(
            "open_cases_closed_by_cap",
            "Open cases closed early, with their final snapshot, because the detector's cap on open cases was reached",
            open_cases_closed_by_cap.clone(),
        );
        let cases = Family::<KindLabel, Counter>::default();
        registry.register(
            "cases_emitted",
            "Case snapshots written, by kind",
            cases.clone(),
        );
        let sink_latency = Family::<SinkLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "sink_flush_seconds",
            "Time for a sink to acknowledge one batch",
            sink_latency.clone(),
        );
        let sink_retries = Family::<SinkLabel, Counter>::default();
        registry.register(
            "sink_retries",
            "Failed flush attempts that were retried",
            sink_retries.clone(),
        );
        let rebuilt_records = Counter::default();
        registry.register(
            "state_rebuild_records",
            "Records re-read to rebuild detector state after an assignment",
            rebuilt_records.clone(),
        );
        let offsets_stored = Counter::default();
        registry.register(
            "offsets_stored",
            "Offsets stored for commit after the sinks acknowledged",
            offsets_stored.clone(),
        );
        let stages = super::stage_time::StageClock::register(&mut registry);
        Metrics {
            stages,
            received,
            valid,
            invalid,
            consumer_lag,
            watermark_delay_seconds,
            state_size,
            open_cases_closed_by_cap,
            cases,
            sink_latency,
            sink_retries,
            rebuilt_records,
            offsets_stored,
            acknowledged: Arc::default(),
            processed: Arc::new(AtomicU64::new(0)),
            ready: Arc::new(AtomicBool::new(false)),
            http_addr: Arc::default(),
            extra_routes: None,
            registry: Arc::new(registry),
        }
    }

    /// Serve `routes` on the metrics endpoint too (`cellwatch run` hands it the
    /// analyst console this way; the service knows nothing about them).
    pub fn with_routes(mut self, routes: Router) -> Self {
        self.extra_routes = Some(routes);
        self
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a string");
        out
    }
}

/// The routes of the endpoint: `/metrics`, `/healthz` and `/readyz`.
pub(crate) fn router(metrics: Metrics) -> Router {
    let m1 = metrics.clone();
    let m2 = metrics.clone();
    let extra = metrics.extra_routes.clone().unwrap_or_default();
    Router::new()
        .route("/metrics", get(move || async move { m1.render() }))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || async move {
                if m2.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }),
        )
        .merge(extra)
}

/// Serve `/metrics`, `/healthz` and `/readyz` until `shutdown` resolves.
pub(crate) async fn serve(
    listen: &str,
    limits: super::http_limits::HttpLimits,
    metrics: Metrics,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    *metrics.http_addr.lock().expect("http addr lock") = Some(addr);
    let app = router(metrics);
    super::http_limits::spawn(listener, app, limits, shutdown);
    tracing::info!(%addr, "metrics endpoint listening");
    Ok(addr)
}

/// The records the sinks acknowledged, each counted once: per partition the highest
/// offset acknowledged, summed. A counter of flushed records counted again what a
/// rebuilt consumer read a second time (after a fence or a stall, the tail since the
/// last commit), and the demo, waiting until it reached the records produced,
/// stopped the service before the last records were in: its cases differed. Equal
/// to the records acknowledged when the topics start empty, as the demo's and the
/// bench's do.
#[derive(Debug, Default)]
pub struct Acknowledged {
    next: std::sync::Mutex<std::collections::BTreeMap<(String, i32), i64>>,
    total: AtomicU64,
}

impl Acknowledged {
    /// Note a flushed batch's next offset per partition.
    pub(crate) fn note(&self, offsets: &std::collections::BTreeMap<(String, i32), i64>) {
        let mut next = self.next.lock().expect("acknowledged lock");
        let mut added = 0;
        for (partition, at) in offsets {
            let was = next.entry(partition.clone()).or_insert(0);
            if *at > *was {
                added += *at - *was;
                *was = *at;
            }
        }
        self.total.fetch_add(added as u64, Ordering::Relaxed);
    }

    /// Records acknowledged so far, each once.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}
