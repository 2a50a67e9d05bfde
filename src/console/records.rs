//! The evidence records of the last cases opened, kept so that a case page read
//! again (a live update, a login, a second inspector on the same case) does not scan
//! the replay inputs or query the `records` archive again. A case's records change
//! only when the case does, so the key is the case id with its `last_seen` and
//! `evidence_count`; concurrent reads of one key share one store call.

use crate::inspect::EvidenceRecord;
use crate::model::Case;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Cases whose records are kept.
const KEPT: usize = 16;

type Key = (String, i64, u64);
type Slot = Arc<OnceCell<Arc<Vec<EvidenceRecord>>>>;

/// Records by case, the most recently used last.
#[derive(Default)]
pub(crate) struct RecordsCache {
    slots: Mutex<Vec<(Key, Slot)>>,
}

impl RecordsCache {
    fn slot(&self, key: Key) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = match slots.iter().position(|(k, _)| *k == key) {
            Some(i) => slots.remove(i).1,
            None => Slot::default(),
        };
        // a case that grew leaves its older records behind
        slots.retain(|(k, _)| k.0 != key.0);
        slots.push((key, slot.clone()));
        if slots.len() > KEPT {
            slots.remove(0);
        }
        slot
    }

    /// The records of `case`, from the cache or from `read` (whose error is not kept).
    pub(crate) async fn get<E, F>(
        &self,
        case: &Case,
        read: impl FnOnce() -> F,
    ) -> Result<Arc<Vec<EvidenceRecord>>, E>
    where
        F: Future<Output = Result<Vec<EvidenceRecord>, E>>,
    {
        let key = (case.case_id.clone(), case.last_seen, case.evidence_count);
        let slot = self.slot(key);
        slot.get_or_try_init(|| async { read().await.map(Arc::new) })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn case(id: &str, last_seen: i64) -> Case {
        let mut c: Case = serde_json::from_value(serde_json::json!({
            "case_id": id, "kind": "spam_sim", "status": "open", "opened_at": 0,
            "first_seen": 0, "last_seen": last_seen, "score": 0.9, "reasons": [],
            "evidence_count": 1
        }))
        .unwrap();
        c.evidence_count = 1;
        c
    }

    #[tokio::test]
    async fn reads_once_per_case_version_and_forgets_errors() {
        let cache = RecordsCache::default();
        let reads = AtomicUsize::new(0);
        let read = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(Vec::new())
        };
        cache.get(&case("a", 1), read).await.unwrap();
        cache.get(&case("a", 1), read).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        cache.get(&case("a", 2), read).await.unwrap();
        assert_eq!(
            reads.load(Ordering::SeqCst),
            2,
            "a grown case is read again"
        );
        let failed = cache
            .get(&case("b", 1), || async { Err::<Vec<_>, _>("down") })
            .await;
        assert_eq!(failed.unwrap_err(), "down");
        cache.get(&case("b", 1), read).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 3, "an error is not kept");
        for i in 0..(KEPT + 4) {
            cache.get(&case(&format!("c{i}"), 1), read).await.unwrap();
        }
        assert!(cache.slots.lock().unwrap().len() <= KEPT);
    }
}
