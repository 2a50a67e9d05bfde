//! Plain-language descriptions of the reason codes detectors write, for reports and
//! `cases show`. Unknown codes are shown as they are: a new rule needs no change here
//! to appear, only to be explained.

/// A sentence an inspector can read, for a reason code.
pub(crate) fn describe(code: &str) -> Option<&'static str> {
    Some(match code {
        "SMS_RATE_5M" => "SMS sent in 5 minutes above the limit",
        "SMS_RATE_1H" => "SMS sent in 1 hour above the limit",
        "SMS_RATE_24H" => "SMS sent in 24 hours above the limit",
        "POPULATION_TAIL" => "hourly sending rate in the extreme tail of all SIMs",
        "RATE_ROBUST_Z" => "sending rate far above the SIM population (robust z-score)",
        "NEW_RECIPIENT_RATIO" => "share of messages to recipients never messaged before",
        "DISTINCT_RATIO" => "share of distinct recipients among messages sent",
        "NO_VOICE" => "mostly SMS, almost no voice calls",
        "OUT_IN_ASYMMETRY" => "far more SMS sent than received",
        "YOUNG_UNVERIFIED" => "recently activated SIM without verified identity",
        "GATEWAY_TAC" => "device model is a GSM gateway / SIM-box modem",
        "STATIONARY" => "always served by the same cell",
        "TEMPLATE_REPEAT" => "the same message template sent repeatedly",
        "FARM_SIZE" => "number of SIMs acting together",
        "SIMS_PER_DEVICE" => "SIMs used in one device",
        "TEMPLATE_CAMPAIGN" => "SIMs sending the same message template",
        "GATEWAY_TAC_CELL" => "gateway modems grouped in one cell",
        "CELL_NOT_REGISTERED" => "broadcast cell identity is not in the licence database",
        "BEYOND_REACH" => "registered identity heard far beyond its site's reach (cloned)",
        "SIGNAL_TOO_STRONG" => "signal stronger than the registered site can produce there",
        "TA_INCONSISTENT" => "timing advance does not fit the distance to the registered site",
        "PLMN_INCONSISTENT" => "no registered cell of this network around the reporter",
        "LAC_INCONSISTENT" => "location/tracking area does not fit the neighbouring cells",
        "ARFCN_UNUSED_NEARBY" => "channel not used by any registered cell nearby",
        "ARFCN_INCONSISTENT" => "registered identity broadcast on another channel",
        "DUPLICATE_IDENTITY" => "the same identity heard on two channels",
        "NO_NEIGHBOURS" => "cell announces no or one neighbour cell",
        "NULL_CIPHER" => "no encryption (A5/0, EEA0)",
        "RAT_DOWNGRADE" => "phones forced down to 2G",
        "LU_REJECT" => "location updates rejected",
        "SMS_WHILE_CAMPED" => "SMS received while camped on the cell (blaster)",
        "DISTINCT_REPORTERS" => "distinct phones that reported the transmitter in one window",
        "LIFETIME_S" => "seconds between the first and the last report of the cell",
        "BEYOND_REACH_SHARE" => "share of reports heard beyond the registered site's reach",
        "LISTED_OFFSET_M" => "metres between the located and the registered site",
        "RATE_FAR_BEYOND" => "sending rate far beyond the SIM's own operator's population, held for hours",
        "RATE_HELD_HOURS" => "a pace far beyond the SIM's own operator's population kept up hour after hour (value: full hours)",
        "RATE_STEADY_HOUR" => "a script's pace: far beyond the SIM's own operator's population in every 5 minutes of the last hour (value: the slowest 5 minutes, SMS per hour)",
        "REPEATED_BURSTS" => "a contact book's worth sent in minutes, again and again after pauses: more bursts than a school's notices in a day (value: bursts)",
        "KNOWN_RECIPIENTS" => "held back: mostly recipients the SIM messaged before",
        "FEW_RECIPIENTS" => "held back: the volume goes to few distinct numbers",
        "ONE_OFF_BURST" => "held back: a one-off burst from a SIM with a subscriber's life (e.g. a new-number announcement)",
        "WITHIN_CONTACT_BOOK" => "not yet: a rate far beyond, but no more SMS than one contact book and no identity fields to tell a \"send to all\" apart",
        "IDENTITY_VERIFIED" => "sign of a real subscriber: identity verified",
        "SIM_AGE_DAYS" => "sign of a real subscriber: SIM older than the threshold (days)",
        "VOICE_CALLS" => "sign of a real subscriber: voice calls made or received",
        "REPLY_SHARE" => "sign of a real subscriber: share of messages answered",
        "SYNCHRONIZED_ONSET" => "SIMs that started sending within minutes of each other",
        "FARM_SITES" => "gateways at several cells joined as one farm: same template, same start (value: sites)",
        "FARM_MEMBERS_UNLISTED" => "the farm has more SIMs than the case lists (value: all members)",
        "KNOWN_CELL_FAR_FROM_SITE" => "a registered cell heard far from its site, next to the phone (cloned identity; km)",
        "REJECTS_EVERY_PHONE" => "phones rejected or forced down to 2G by an identity implausible for the area (IMSI catcher), or by a registered identity heard without ciphering (a clone of a nearby cell)",
        "IDENTITIES_UNLISTED" => "the transmitter used more identities than the case lists (value: all identities)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::describe;

    /// Every rule a case can carry is explained to the inspector (the console and
    /// the evidence report print the description next to the code).
    #[test]
    fn every_rule_code_has_a_description() {
        for r in crate::detect::spam::rules::ALL_RULES {
            assert!(
                describe(r.code()).is_some(),
                "{} has no description",
                r.code()
            );
        }
        for r in crate::detect::fakebts::rules::Rule::ALL {
            assert!(
                describe(r.code()).is_some(),
                "{} has no description",
                r.code()
            );
        }
    }
}
