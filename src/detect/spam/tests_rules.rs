//! Unit tests of the per-SIM rules (`rules.rs`): codes, confidences, the rules a
//! blatant spammer and the traps fire, merging.

use super::*;

fn rules() -> SimRules {
    SimRules::from_config(&SpamConfig::default())
}

#[test]
fn every_rule_reads_the_confidence_key_named_by_its_code() {
    let text: String = ALL_RULES
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{} = {}\n", r.code(), (i + 1) as f64 / 100.0))
        .collect();
    let c: RuleConfidence = toml::from_str(&text).expect("every rule code is a key");
    for (i, r) in ALL_RULES.iter().enumerate() {
        assert_eq!(confidence(*r, &c), (i + 1) as f64 / 100.0, "{}", r.code());
    }
}

#[test]
fn codes_round_trip_and_bits_are_distinct() {
    let mut mask = 0;
    for r in ALL_RULES {
        assert_eq!(RuleId::from_code(r.code()), Some(r));
        assert_eq!(mask & r.bit(), 0);
        mask |= r.bit();
    }
}

#[test]
fn blatant_spammer_fires_behaviour_and_volume() {
    let f = SimFeatures {
        out_short: 80,
        out_medium: 80,
        out_long: 80,
        distinct_medium: 78,
        new_medium: 72,
        tail_log10: Some(40.0),
        robust_z: Some(9.0),
        age_days: Some(3),
        kyc_verified: Some(false),
        max_fp_count: 40,
        fields: field::ALL,
        ..SimFeatures::default()
    };
    let fired = rules().evaluate(&f);
    for r in [
        RuleId::SmsRate5m,
        RuleId::SmsRate1h,
        RuleId::PopulationTail,
        RuleId::RateRobustZ,
        RuleId::NewRecipientRatio,
        RuleId::DistinctRatio,
        RuleId::NoVoice,
        RuleId::OutInAsymmetry,
        RuleId::YoungUnverified,
        RuleId::TemplateRepeat,
    ] {
        assert!(fired.has(r), "{} did not fire", r.code());
    }
    assert!(!fired.has(RuleId::GatewayTac));
    let conf = confidences(&RuleConfidence::default());
    assert!(fired.score(&conf) > 0.98);
    let reasons = fired.reasons();
    let nr = reasons
        .iter()
        .find(|r| r.code == "NEW_RECIPIENT_RATIO")
        .unwrap();
    assert!((nr.value - 72.0 / 78.0).abs() < 1e-3);
    assert_eq!(nr.threshold, 0.8);
}

#[test]
fn traps_do_not_fire_behaviour() {
    // TV vote: many SMS, one recipient
    let tv = SimFeatures {
        out_medium: 300,
        distinct_medium: 1,
        new_medium: 1,
        fields: field::ALL,
        ..SimFeatures::default()
    };
    assert!(!rules().evaluate(&tv).has(RuleId::NewRecipientRatio));
    // new subscriber texting first contacts: ratio 1 but few recipients
    let fresh = SimFeatures {
        out_medium: 12,
        distinct_medium: 8,
        new_medium: 8,
        fields: field::ALL,
        ..SimFeatures::default()
    };
    assert!(!rules().evaluate(&fresh).has(RuleId::NewRecipientRatio));
}

#[test]
fn merge_keeps_the_strongest_value() {
    let mut a = Fired::default();
    a.push(RuleId::SmsRate1h, 60.0, 50.0);
    let mut b = Fired::default();
    b.push(RuleId::SmsRate1h, 90.0, 50.0);
    b.push(RuleId::NoVoice, 30.0, 20.0);
    a.merge_max(&b);
    assert_eq!(a.value(RuleId::SmsRate1h), 90.0);
    assert!(a.has(RuleId::NoVoice));
}
