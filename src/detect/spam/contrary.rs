//! Contrary evidence: what the feed carries that explains a SIM's volume without
//! spam, checked only when a SIM would otherwise open a case. Each check needs its
//! fields; a field the feed does not carry is no evidence either way.
//!
//! - `KNOWN_RECIPIENTS`: most recipients of the medium window are numbers the SIM
//!   texted before (`new_recipients`): shops, schools, a family;
//! - `FEW_RECIPIENTS`: the volume goes to few numbers (`distinct_recipients`): TV
//!   votes, M2M servers;
//! - `ONE_OFF_BURST`: a SIM with a subscriber's life (identity verified, an old SIM,
//!   calls, replies: `IDENTITY_VERIFIED`, `SIM_AGE_DAYS`, `VOICE_CALLS`,
//!   `REPLY_SHARE` say which) that has sent no more than one message to each entry of
//!   a contact book (`one_off_max_sms`): a new-number announcement, an invitation.
//!   Not checked when the SIM sits in a GSM gateway (`GATEWAY_TAC`) or sends the
//!   template other broadcasting SIMs send (`TEMPLATE_CAMPAIGN`, `templates.rs`):
//!   device or content evidence the feed does carry is not outweighed by a pattern it
//!   cannot tell from spam.
//! - `ESTABLISHED_SUBSCRIBER`: an old SIM (`sim_age_days` above `young_sim_days`) with
//!   calls or replies: its volume alone (`RATE_FAR_BEYOND`) opens no case, whatever
//!   the count (a school's notices, a shop's busy hour); the behaviour gate (new
//!   recipients, where the feed carries them) still can.
//!
//! - `WITHIN_CONTACT_BOOK`: no evidence against, but none for either: a rate far
//!   beyond and held (`RATE_FAR_BEYOND` but for its count) from a SIM that has sent
//!   no more than one contact book's worth, on a feed without `sim_age_days` and
//!   `kyc_verified`, where a "send to all" cannot be told apart until it ends.
//!
//! A SIM held back by any of them is a *near miss* (`near_miss.rs`): the reasons list
//! both the rules that fired and the evidence that held the case back.

use super::rules::{Fired, RuleId, SimFeatures};
use super::state::field;
use crate::config::SpamConfig;
use crate::model::{round4, Reason};

/// The contrary evidence found for one SIM at one record.
#[derive(Debug, Clone, Default)]
pub(crate) struct Contrary {
    /// Whether it holds back a case opened by the behaviour gate
    /// (`NEW_RECIPIENT_RATIO` + volume).
    pub(crate) holds_behaviour: bool,
    /// Whether it holds back a case opened by `RATE_FAR_BEYOND` alone.
    pub(crate) holds_far: bool,
    pub(crate) reasons: Vec<Reason>,
}

impl Contrary {
    /// The contrary evidence in the SIM's features, for a SIM whose fired rules would
    /// open a case.
    pub(crate) fn of(c: &SpamConfig, f: &SimFeatures, fired: &Fired) -> Contrary {
        let mut out = Contrary::default();
        if f.carries(field::NEW | field::DISTINCT) && f.distinct_medium > 0 {
            let share = f.new_medium as f64 / f.distinct_medium as f64;
            if share < c.new_recipient_ratio {
                out.holds_far = true;
                out.push("KNOWN_RECIPIENTS", share, c.new_recipient_ratio);
            }
        }
        if f.carries(field::DISTINCT) && f.out_medium > 0 {
            let share = f.distinct_medium as f64 / f.out_medium as f64;
            if share < c.few_recipients_ratio {
                out.holds_far = true;
                out.push("FEW_RECIPIENTS", share, c.few_recipients_ratio);
            }
        }
        // a gateway device is no subscriber's phone, and a campaign's template no
        // subscriber's own words: the burst is not one
        let not_one_off = fired.has(RuleId::GatewayTac) || fired.has(RuleId::TemplateCampaign);
        if f.out_long <= u64::from(c.one_off_max_sms) && !not_one_off {
            let before = out.reasons.len();
            life_signs(c, f, &mut out);
            if out.reasons.len() > before {
                out.holds_behaviour = true;
                out.holds_far = true;
                out.push(
                    "ONE_OFF_BURST",
                    f.out_long as f64,
                    f64::from(c.one_off_max_sms),
                );
            }
        }
        if let Some(age) = established(c, f).filter(|_| !fired.has(RuleId::GatewayTac)) {
            out.holds_far = true;
            out.push(
                "ESTABLISHED_SUBSCRIBER",
                f64::from(age),
                f64::from(c.young_sim_days),
            );
        }
        if !fired.opens_alone() {
            out.holds_far = true;
        }
        out
    }

    /// `WITHIN_CONTACT_BOOK`: `RATE_FAR_BEYOND` would fire but the SIM has sent no
    /// more than a contact book (`sent` of `floor`) and its feed does not carry what
    /// tells a subscriber's "send to all" apart (`sim_age_days`, `kyc_verified`).
    pub(crate) fn within_contact_book(sent: u64, floor: u32) -> Contrary {
        let mut out = Contrary {
            holds_behaviour: true,
            holds_far: true,
            reasons: Vec::new(),
        };
        out.push("WITHIN_CONTACT_BOOK", sent as f64, f64::from(floor));
        out
    }

    fn push(&mut self, code: &str, value: f64, threshold: f64) {
        self.reasons
            .push(Reason::new(code, round4(value), round4(threshold)));
    }
}

/// The SIM's age when it is an established subscriber's: older than
/// `young_sim_days` and with calls or replies over the long window (each only when the
/// feed carries its fields).
fn established(c: &SpamConfig, f: &SimFeatures) -> Option<u32> {
    let age = f.age_days.filter(|a| *a > c.young_sim_days)?;
    let voice = f.carries(field::CALLS) && f.voice_long > 0;
    let replies = f.carries(field::SMS_IN)
        && f.out_long > 0
        && f.in_long as f64 >= c.reply_share * f.out_long as f64;
    (voice || replies).then_some(age)
}

/// A subscriber's life in the features: identity verified, an old SIM, calls,
/// replies (each only when the feed carries its fields).
fn life_signs(c: &SpamConfig, f: &SimFeatures, out: &mut Contrary) {
    if f.kyc_verified == Some(true) {
        out.push("IDENTITY_VERIFIED", 1.0, 1.0);
    }
    if let Some(age) = f.age_days.filter(|a| *a > c.young_sim_days) {
        out.push("SIM_AGE_DAYS", f64::from(age), f64::from(c.young_sim_days));
    }
    if f.carries(field::CALLS) && f.voice_long > 0 {
        out.push("VOICE_CALLS", f.voice_long as f64, 1.0);
    }
    if f.carries(field::SMS_IN) && f.out_long > 0 {
        let share = f.in_long as f64 / f.out_long as f64;
        if share >= c.reply_share {
            out.push("REPLY_SHARE", share, c.reply_share);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(rules: &[RuleId]) -> Fired {
        let mut f = Fired::default();
        for r in rules {
            f.push(*r, 1.0, 1.0);
        }
        f
    }

    #[test]
    fn a_verified_subscriber_texting_its_contact_book_is_held() {
        let c = SpamConfig::default();
        let f = SimFeatures {
            out_medium: 300,
            out_long: 300,
            distinct_medium: 300,
            new_medium: 290,
            kyc_verified: Some(true),
            age_days: Some(1),
            fields: field::ALL,
            ..SimFeatures::default()
        };
        let k = Contrary::of(&c, &f, &fired(&[RuleId::NewRecipientRatio]));
        assert!(k.holds_behaviour);
        let codes: Vec<&str> = k.reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["IDENTITY_VERIFIED", "ONE_OFF_BURST"]);
        // past a contact book's size it is no longer one burst
        let more = SimFeatures { out_long: 900, ..f };
        assert!(!Contrary::of(&c, &more, &fired(&[RuleId::NewRecipientRatio])).holds_behaviour);
    }

    #[test]
    fn missing_fields_are_no_evidence_either_way() {
        let c = SpamConfig::default();
        // an operator sending only sms_out: zeros in the absent counts mean nothing
        let f = SimFeatures {
            out_medium: 600,
            out_long: 1_000,
            ..SimFeatures::default()
        };
        let k = Contrary::of(&c, &f, &fired(&[RuleId::RateFarBeyond]));
        assert!(!k.holds_far && k.reasons.is_empty());
        // the same counts with distinct_recipients = 1 carried: a TV vote
        let tv = SimFeatures {
            distinct_medium: 1,
            fields: field::DISTINCT,
            ..f
        };
        let k = Contrary::of(&c, &tv, &fired(&[RuleId::RateFarBeyond]));
        assert!(k.holds_far);
        assert_eq!(k.reasons[0].code, "FEW_RECIPIENTS");
    }

    #[test]
    fn an_established_subscriber_is_held_from_volume_alone_and_a_gateway_is_not() {
        let c = SpamConfig::default();
        // a school on a feed without new_recipients: old SIM, parents call back
        let school = SimFeatures {
            out_medium: 711,
            out_long: 712,
            voice_long: 2,
            age_days: Some(900),
            fields: field::CALLS | field::DISTINCT,
            distinct_medium: 700,
            ..SimFeatures::default()
        };
        let k = Contrary::of(&c, &school, &fired(&[RuleId::RateFarBeyond]));
        assert!(k.holds_far && !k.holds_behaviour);
        assert_eq!(k.reasons[0].code, "ESTABLISHED_SUBSCRIBER");
        // a young SIM, or one without calls, is not established
        let young = SimFeatures {
            age_days: Some(4),
            ..school
        };
        assert!(!Contrary::of(&c, &young, &fired(&[RuleId::RateFarBeyond])).holds_far);
        // a verified burst to a contact book is no longer one-off in a gateway
        let gw = SimFeatures {
            out_medium: 300,
            out_long: 300,
            kyc_verified: Some(true),
            ..SimFeatures::default()
        };
        let both = fired(&[RuleId::RateFarBeyond, RuleId::GatewayTac]);
        assert!(!Contrary::of(&c, &gw, &both).holds_far);
        assert!(Contrary::of(&c, &gw, &fired(&[RuleId::RateFarBeyond])).holds_far);
    }
}
