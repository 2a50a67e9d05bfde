//! Event time: watermarks with allowed lateness, and compact sliding windows.
//!
//! Generic and detector-agnostic; used by the spam and the fake-BTS detectors.
//!
//! - [`Watermark`] / [`Watermarks`]: per-source watermark (`max event time − allowed
//!   lateness`), lateness verdicts ([`Admission`]) and the combined watermark of several
//!   sources (minimum over active sources, see [`Watermarks`] for idle sources).
//! - [`BucketRing`]: a fixed ring of `N` time buckets with a shared [`RingSpec`], exact
//!   semantics documented in [`sliding`]; [`MultiWindow`] groups three resolutions
//!   (5 min / 1 h / 24 h with [`MultiSpec::standard`]).
//! - [`Counter`]: `u16`, `u32` or arrays of them, saturating.
//!
//! Typical use in a detector, per key (e.g. per SIM):
//!
//! ```
//! use cellwatch::window::{Admission, MultiSpec, StandardWindows, Watermark};
//!
//! let spec = MultiSpec::standard(); // shared by all keys
//! let mut watermark = Watermark::new(10 * 60_000); // 10 min allowed lateness
//! let mut sim: StandardWindows<u16> = StandardWindows::new(); // 96 bytes per SIM
//! let t = 1_700_000_100_000;
//! if watermark.observe(t) == Admission::OnTime {
//!     sim.add(&spec, t, 12);
//! }
//! let sums = sim.sums(&spec, t);
//! assert_eq!((sums.short, sums.medium, sums.long), (12, 12, 12));
//! ```

mod counter;
mod multi;
pub mod sliding;
mod watermark;

pub use counter::Counter;
pub use multi::{MultiAddOutcome, MultiSpec, MultiSums, MultiWindow, StandardWindows};
pub use sliding::{AddOutcome, BucketRing, RingSpec, WindowSpecError};
pub use watermark::{Admission, Watermark, Watermarks};
