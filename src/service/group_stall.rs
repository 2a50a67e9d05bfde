//! Notices a group consumer stuck outside its group while the brokers answer it, so
//! that the service can make the consumer again instead of waiting for ever.
//!
//! After a broker restart librdkafka 2.12 was seen (once in about twenty runs of the
//! broker-restart test) never to find the group coordinator again although its other
//! connections to the same broker were up: the member's session timed out, it lost
//! its partitions, and nothing rejoined in the four minutes the test waited. A fresh
//! client bootstraps, finds the coordinator and rejoins at once.

use rdkafka::statistics::Statistics;
use std::time::{Duration, Instant};

/// What one statistics report says about a group consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupReport {
    /// librdkafka's group state (`up` once the coordinator is known) and join state
    /// (`steady` between rebalances).
    pub(crate) state: String,
    pub(crate) join_state: String,
    /// Whether any of the client's broker connections is up: without one the
    /// brokers are away, which is not the consumer's fault.
    pub(crate) broker_up: bool,
}

impl GroupReport {
    /// The report's group part, `None` for a client without a group.
    pub(crate) fn from_statistics(statistics: &Statistics) -> Option<GroupReport> {
        let cgrp = statistics.cgrp.as_ref()?;
        Some(GroupReport {
            state: cgrp.state.clone(),
            join_state: cgrp.join_state.clone(),
            broker_up: statistics.brokers.values().any(|b| b.state == "UP"),
        })
    }

    fn working(&self) -> bool {
        self.state == "up" && self.join_state == "steady"
    }
}

/// How long the group has been out of order while the brokers answered.
#[derive(Debug)]
pub(crate) struct GroupStall {
    /// How long is too long (`[kafka] group_stall_secs`); zero: never.
    limit: Duration,
    /// Since when the consumer has been out of a working group with a broker up.
    since: Option<Instant>,
    /// Told once: the consumer is made again after that.
    told: bool,
}

impl GroupStall {
    pub(crate) fn new(limit: Duration) -> Self {
        GroupStall {
            limit,
            since: None,
            told: false,
        }
    }

    /// Note `report`, taken at `now`; the reason to make the consumer again, once,
    /// when it has been out of a working group for the limit with a broker up.
    pub(crate) fn note(&mut self, report: &GroupReport, now: Instant) -> Option<String> {
        if self.limit.is_zero() || self.told {
            return None;
        }
        if report.working() || !report.broker_up {
            self.since = None;
            return None;
        }
        let since = *self.since.get_or_insert(now);
        if now.duration_since(since) < self.limit {
            return None;
        }
        self.told = true;
        Some(format!(
            "the group consumer has been out of its group (librdkafka's group state {}, join state {}) for {} s while a broker connection was up",
            report.state,
            report.join_state,
            now.duration_since(since).as_secs()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(state: &str, join_state: &str, broker_up: bool) -> GroupReport {
        GroupReport {
            state: state.into(),
            join_state: join_state.into(),
            broker_up,
        }
    }

    #[test]
    fn a_coordinator_never_found_with_a_broker_up_is_told_once_after_the_limit() {
        let t0 = Instant::now();
        let mut stall = GroupStall::new(Duration::from_secs(60));
        let lost = report("query-coord", "steady", true);
        assert_eq!(stall.note(&report("up", "steady", true), t0), None);
        for s in [5, 30, 64] {
            assert_eq!(stall.note(&lost, t0 + Duration::from_secs(s)), None, "{s}");
        }
        let told = stall.note(&lost, t0 + Duration::from_secs(65)).unwrap();
        assert!(told.contains("group state query-coord"), "{told}");
        assert!(told.contains("for 60 s"), "{told}");
        assert_eq!(stall.note(&lost, t0 + Duration::from_secs(200)), None);
    }

    #[test]
    fn a_broker_outage_does_not_count_and_a_working_group_starts_over() {
        let t0 = Instant::now();
        let mut stall = GroupStall::new(Duration::from_secs(60));
        let at = |s: u64| t0 + Duration::from_secs(s);
        // Ten minutes with every broker away: not the consumer's fault.
        for s in (0..600).step_by(5) {
            assert_eq!(
                stall.note(&report("query-coord", "steady", false), at(s)),
                None
            );
        }
        // Brokers back, a rebalance of 50 s, working again, then 50 s more stuck.
        assert_eq!(stall.note(&report("up", "wait-join", true), at(600)), None);
        assert_eq!(stall.note(&report("up", "wait-sync", true), at(650)), None);
        assert_eq!(stall.note(&report("up", "steady", true), at(655)), None);
        assert_eq!(
            stall.note(&report("wait-coord", "steady", true), at(660)),
            None
        );
        assert_eq!(
            stall.note(&report("query-coord", "steady", true), at(710)),
            None
        );
        // A rebalance that never ends counts too.
        assert!(stall
            .note(&report("up", "wait-join", true), at(720))
            .is_some_and(|r| r.contains("join state wait-join")));
    }

    #[test]
    fn zero_turns_it_off() {
        let t0 = Instant::now();
        let mut stall = GroupStall::new(Duration::ZERO);
        let lost = report("query-coord", "init", true);
        assert_eq!(stall.note(&lost, t0), None);
        assert_eq!(stall.note(&lost, t0 + Duration::from_secs(3600)), None);
    }
}
