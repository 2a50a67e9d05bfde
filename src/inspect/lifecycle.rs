//! The case lifecycle: `open → handed_over → confirmed | dismissed`.
//!
//! Every change is an append-only [`StatusChange`] (who, when, a note) in the
//! `case_status_log` table or a replay folder's `case_status_log.jsonl`; the status of
//! a case is the last change, or the detector's snapshot status when there is none.
//! The detector keeps re-emitting case snapshots with `status = open`, so the status
//! column of `cases` is never rewritten by an inspector: the audit log is the truth.

use crate::model::CaseStatus;
use serde::{Deserialize, Serialize};

/// Largest accepted note, in characters: a paragraph, not a document.
pub(crate) const MAX_NOTE_CHARS: usize = 4000;
/// Largest accepted actor name, in characters.
pub(crate) const MAX_ACTOR_CHARS: usize = 128;

/// One status change of one case, as stored in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub case_id: String,
    pub from_status: CaseStatus,
    pub to_status: CaseStatus,
    pub actor: String,
    pub note: String,
    /// Wall-clock time of the change, epoch milliseconds (an inspector's action, not an event).
    pub changed_at: i64,
}

/// A change the lifecycle does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("case {case_id} is already {status}; nothing to change")]
    Unchanged { case_id: String, status: String },
    #[error("case {case_id} is {from}, a final status; a closed case cannot become {to}")]
    Closed {
        case_id: String,
        from: String,
        to: String,
    },
    #[error("case {case_id} cannot go from {from} to {to}; allowed next: {allowed}")]
    NotAllowed {
        case_id: String,
        from: String,
        to: String,
        allowed: String,
    },
}

/// Position in the lifecycle: changes only ever go forward.
pub(crate) fn rank(s: CaseStatus) -> u8 {
    match s {
        CaseStatus::Open => 0,
        CaseStatus::HandedOver => 1,
        CaseStatus::Confirmed | CaseStatus::Dismissed => 2,
    }
}

/// The statuses a case may move to from `from`.
pub(crate) fn allowed_next(from: CaseStatus) -> &'static [CaseStatus] {
    match from {
        CaseStatus::Open => &[CaseStatus::HandedOver],
        CaseStatus::HandedOver => &[CaseStatus::Confirmed, CaseStatus::Dismissed],
        CaseStatus::Confirmed | CaseStatus::Dismissed => &[],
    }
}

/// Whether `from → to` is a lifecycle step; the error says which steps are possible.
pub(crate) fn check_transition(
    case_id: &str,
    from: CaseStatus,
    to: CaseStatus,
) -> Result<(), TransitionError> {
    if from == to {
        return Err(TransitionError::Unchanged {
            case_id: case_id.into(),
            status: from.as_str().into(),
        });
    }
    let next = allowed_next(from);
    if next.is_empty() {
        return Err(TransitionError::Closed {
            case_id: case_id.into(),
            from: from.as_str().into(),
            to: to.as_str().into(),
        });
    }
    if !next.contains(&to) {
        return Err(TransitionError::NotAllowed {
            case_id: case_id.into(),
            from: from.as_str().into(),
            to: to.as_str().into(),
            allowed: next
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
        });
    }
    Ok(())
}

/// Put a case's changes in the order they happened: by time, and for equal times by
/// lifecycle position (changes only go forward, so this order is unambiguous).
pub(crate) fn sort_history(history: &mut [StatusChange]) {
    history.sort_by(|a, b| {
        a.changed_at
            .cmp(&b.changed_at)
            .then_with(|| rank(a.to_status).cmp(&rank(b.to_status)))
    });
}

/// The status of a case: the last change of its (sorted) history, else the snapshot's.
pub(crate) fn current_status(snapshot: CaseStatus, history: &[StatusChange]) -> CaseStatus {
    history
        .iter()
        .max_by(|a, b| {
            a.changed_at
                .cmp(&b.changed_at)
                .then_with(|| rank(a.to_status).cmp(&rank(b.to_status)))
        })
        .map(|c| c.to_status)
        .unwrap_or(snapshot)
}

/// Check an actor name: not empty, no control characters, at most [`MAX_ACTOR_CHARS`].
pub(crate) fn check_actor(actor: &str) -> Result<(), String> {
    let a = actor.trim();
    if a.is_empty() {
        return Err("actor is empty; give --actor NAME (defaults to $USER)".into());
    }
    if a.chars().count() > MAX_ACTOR_CHARS || a.chars().any(char::is_control) {
        return Err(format!(
            "actor must be at most {MAX_ACTOR_CHARS} printable characters"
        ));
    }
    Ok(())
}

/// Check a note: not empty (an audit entry says why), at most [`MAX_NOTE_CHARS`].
pub(crate) fn check_note(note: &str) -> Result<(), String> {
    if note.trim().is_empty() {
        return Err(
            "note is empty; say why with --note TEXT (it is kept in the audit trail)".into(),
        );
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(format!(
            "note is longer than {MAX_NOTE_CHARS} characters; keep it short and attach documents elsewhere"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseStatus::*;

    #[test]
    fn only_forward_steps_are_allowed() {
        check_transition("c", Open, HandedOver).unwrap();
        check_transition("c", HandedOver, Confirmed).unwrap();
        check_transition("c", HandedOver, Dismissed).unwrap();
        let e = check_transition("c", Open, Confirmed).unwrap_err();
        assert_eq!(
            e.to_string(),
            "case c cannot go from open to confirmed; allowed next: handed_over"
        );
        let e = check_transition("c", Confirmed, Open).unwrap_err();
        assert!(e.to_string().contains("final status"), "{e}");
        let e = check_transition("c", Dismissed, Confirmed).unwrap_err();
        assert!(matches!(e, TransitionError::Closed { .. }));
        let e = check_transition("c", HandedOver, HandedOver).unwrap_err();
        assert!(e.to_string().contains("already handed_over"));
        let e = check_transition("c", HandedOver, Open).unwrap_err();
        assert!(e.to_string().contains("confirmed or dismissed"), "{e}");
    }

    #[test]
    fn current_status_is_the_last_change() {
        let ch = |from, to, at| StatusChange {
            case_id: "c".into(),
            from_status: from,
            to_status: to,
            actor: "a".into(),
            note: "n".into(),
            changed_at: at,
        };
        assert_eq!(current_status(Open, &[]), Open);
        let mut h = vec![ch(HandedOver, Dismissed, 5), ch(Open, HandedOver, 5)];
        assert_eq!(current_status(Open, &h), Dismissed);
        sort_history(&mut h);
        assert_eq!(h[0].to_status, HandedOver);
        assert_eq!(current_status(Open, &h[..1]), HandedOver);
    }

    #[test]
    fn actor_and_note_checks() {
        assert!(check_actor("alice").is_ok());
        assert!(check_actor(" ").is_err());
        assert!(check_actor("a\u{7}b").is_err());
        assert!(check_note("seized at the scene").is_ok());
        assert!(check_note("").unwrap_err().contains("--note"));
        assert!(check_note(&"x".repeat(MAX_NOTE_CHARS + 1)).is_err());
    }
}
