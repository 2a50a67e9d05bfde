//! Event time: watermarks with allowed lateness, and compact sliding windows.
//!
//! Generic and detector-agnostic; used by validation (watermarks) and the spam and
//! fake-BTS detectors (windows).
//!
//! - [`Watermark`]: per-source watermark (`max event time − allowed lateness`) and
//!   lateness verdicts ([`Admission`]). The minimum over a feed's sources is kept by
//!   the pipeline (`crate::pipeline::Pipeline::on_watermark`).
//! - [`BucketRing`]: a fixed ring of `N` time buckets with a shared [`RingSpec`], exact
//!   semantics documented in `sliding.rs`.
//! - [`Counter`]: `u16`, `u32` or arrays of them, saturating.
//!
//! Typical use in a detector, per key (e.g. per SIM):
//!
//! ```
//! use cellwatch::window::{Admission, BucketRing, RingSpec, Watermark};
//!
//! // 1 h in 12 buckets of 5 min, shared by all keys
//! let spec = RingSpec::<12>::new(5 * 60_000).expect("a positive width");
//! let mut watermark = Watermark::new(10 * 60_000); // 10 min allowed lateness
//! let mut sim: BucketRing<12, u16> = BucketRing::new(); // 28 bytes per SIM
//! let t = 1_700_000_100_000;
//! if watermark.observe(t) == Admission::OnTime {
//!     sim.add(&spec, t, 12);
//! }
//! assert_eq!(sim.sum(&spec, t), 12);
//! ```

mod counter;
mod prefetch;
pub(crate) mod sliding;
mod watermark;

pub use counter::Counter;
pub(crate) use prefetch::prefetch_lines;
pub use sliding::{AddOutcome, BucketRing, RingSpec, WindowSpecError};
pub use watermark::{Admission, Watermark};
