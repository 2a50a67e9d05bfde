//! Fake base station and SMS-blaster detection (rules and parameters:
//! docs/detection.md).
//!
//! - `rules.rs`: per-report checks, each a named rule with code, value and threshold;
//! - `index.rs`: the registered-cell inventory as an R-tree and hash lookups;
//! - `identity.rs` / `emitter.rs`: evidence per broadcast identity and per candidate
//!   transmitter (several identities linked by place, time and radio signature),
//!   scored additively over an event-time window;
//! - `signature.rs` / `link.rs`: a transmitter's radio signature, and linking (and
//!   unlinking) identities on it — a blaster hopping or cloning real cells;
//! - [`locate`] / `track.rs`: signal-weighted centroid, robust multilateration on the
//!   path-loss model (with timing advance), Kalman tracking of moving transmitters;
//!   (`latest.rs`: a moving transmitter's position at its last report);
//!   (`moving.rs`: whether the short-window fixes show the transmitter moving);
//!   (`posterior.rs`: the posterior mean over a grid when few phones heard it);
//! - `reported.rs` / `reporters.rs`: a report kept for localisation, and the phones
//!   that reported a transmitter, compactly; `rule_values.rs`: the mean value of each
//!   rule a transmitter fired, for its case;
//! - `signs.rs`: independent sign families that let one phone open a case;
//! - `cipher.rs`: a registered identity heard unciphered in place: ciphered by other
//!   phones at the same time, or forcing nearly every phone down to 2G (a clone of a
//!   nearby cell that turns ciphering off, on its channel or with none listed);
//! - `snapshot.rs`: a transmitter's `fake_bts` case (id, state, snapshots);
//! - `split.rs`: an identity found on air beside an older one of its transmitter
//!   leaves with its reports, to the transmitter that went quiet when it came on air;
//! - `absorb.rs`: a candidate about to open a case that a transmitter with a case
//!   already explains is taken over by it (one transmitter, one case);
//! - `findings.rs`: inventory discrepancies (missing / misplaced rows), never cases;
//! - `identities.rs` / `transmitters.rs`: the detector's two stages, per claimed
//!   identity (stage A: rules, identity evidence) and per transmitter (stage B: the
//!   rest), and `forward.rs`, what crosses from A to B; `regions.rs` /
//!   `regional.rs`: stage B divided into tiles by the reporter's place, so that it
//!   runs as several tasks with the same cases;
//! - `detector.rs`: [`FakeBtsDetector`], the [`crate::detect::Detector`] running both
//!   stages in sequence.

mod absorb;
pub(crate) mod cipher;
pub(crate) mod detector;
pub(crate) mod emitter;
pub(crate) mod farclone;
pub(crate) mod findings;
pub(crate) mod forward;
pub mod geometry;
pub(crate) mod identities;
pub(crate) mod identity;
pub(crate) mod index;
mod latest;
pub(crate) mod link;
pub mod locate;
pub(crate) mod moving;

mod posterior;
pub(crate) mod refit;
pub(crate) mod regional;
pub(crate) mod regions;
pub(crate) mod reported;
pub(crate) mod reporters;
pub(crate) mod rule_values;
pub(crate) mod rules;
pub(crate) mod select;
pub(crate) mod signature;
pub(crate) mod signs;
pub(crate) mod snapshot;
mod split;
pub(crate) mod stats;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bare;
#[cfg(test)]
mod tests_beside;
#[cfg(test)]
mod tests_clone;
#[cfg(test)]
mod tests_farclone;
#[cfg(test)]
mod tests_forced;
#[cfg(test)]
mod tests_lowpower;
#[cfg(test)]
mod tests_refit;
#[cfg(test)]
mod tests_regions;
#[cfg(test)]
mod tests_split;
#[cfg(test)]
mod tests_stages;
#[cfg(test)]
mod tests_stationary;
pub(crate) mod track;
pub(crate) mod transmitters;

pub use detector::FakeBtsDetector;
