//! The five phases of a domain and the rules for moving between them (DESIGN.md, "Five
//! phases per domain"). Pure functions: the control plane records what they decide.

use crate::side::Side;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a domain stands in its migration. Ordered: `Legacy < DualWrite < … < New`.
///
/// | phase        | reads served by | authoritative writes | kept in sync |
/// |--------------|-----------------|----------------------|--------------|
/// | `legacy`     | legacy          | legacy               | —            |
/// | `dual-write` | legacy          | legacy               | new          |
/// | `backfill`   | legacy          | legacy               | new          |
/// | `read-new`   | new (ramp %)    | new                  | legacy       |
/// | `new`        | new             | new                  | —            |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Legacy,
    DualWrite,
    Backfill,
    ReadNew,
    New,
}

impl Phase {
    /// All phases in order.
    pub const ALL: [Phase; 5] =
        [Phase::Legacy, Phase::DualWrite, Phase::Backfill, Phase::ReadNew, Phase::New];

    /// The name used in plans, the API, metrics labels and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Legacy => "legacy",
            Phase::DualWrite => "dual-write",
            Phase::Backfill => "backfill",
            Phase::ReadNew => "read-new",
            Phase::New => "new",
        }
    }

    fn position(self) -> usize {
        self as usize
    }

    /// The phase one step forward, if any.
    pub fn next(self) -> Option<Phase> {
        Phase::ALL.get(self.position() + 1).copied()
    }

    /// The phase one step back, if any.
    pub fn previous(self) -> Option<Phase> {
        self.position().checked_sub(1).and_then(|i| Phase::ALL.get(i).copied())
    }

    /// The side whose write is the truth in this phase.
    pub fn authoritative(self) -> Side {
        match self {
            Phase::Legacy | Phase::DualWrite | Phase::Backfill => Side::Legacy,
            Phase::ReadNew | Phase::New => Side::New,
        }
    }

    /// The side kept in sync asynchronously in this phase, if any.
    pub fn synced(self) -> Option<Side> {
        match self {
            Phase::Legacy | Phase::New => None,
            Phase::DualWrite | Phase::Backfill => Some(Side::New),
            Phase::ReadNew => Some(Side::Legacy),
        }
    }

    /// Whether reads are split between the sides by `read_new_percent` (only `read-new`).
    pub fn ramps_reads(self) -> bool {
        self == Phase::ReadNew
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A phase name that is not one of the five.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown phase {given:?}; expected one of legacy, dual-write, backfill, read-new, new")]
pub struct PhaseParseError {
    pub given: String,
}

impl FromStr for Phase {
    type Err = PhaseParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| PhaseParseError { given: s.to_owned() })
    }
}

/// Which way a transition went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransitionKind {
    Advance,
    Rollback,
}

impl TransitionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Advance => "advance",
            TransitionKind::Rollback => "rollback",
        }
    }
}

/// A decided phase change, with who asked for it and why. The control plane writes it to the
/// audit log before it publishes the new routing table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub kind: TransitionKind,
    pub from: Phase,
    pub to: Phase,
    pub actor: String,
    pub reason: String,
    /// True when a refusal (leaving `new`) was overridden.
    pub forced: bool,
}

/// Where a rollback should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackTarget {
    /// One step back.
    Previous,
    /// A named earlier phase.
    To(Phase),
}

/// Why a transition was refused. Each message says what would be allowed instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the domain is already in `new`, the last phase; there is nothing to advance to")]
    AlreadyLast,
    #[error("the domain is in `legacy`, the first phase; there is nothing to roll back to")]
    AlreadyFirst,
    #[error("cannot roll back from `{from}` to `{to}`: a rollback goes to an earlier phase")]
    NotEarlier { from: Phase, to: Phase },
    #[error(
        "refusing to leave `new` for `{to}`: legacy is no longer kept in sync in `new`, so it \
         may be missing writes made since; pass force to do it anyway"
    )]
    LegacyOutOfSync { to: Phase },
    #[error("an actor is required for every transition")]
    MissingActor,
}

fn check_actor(actor: &str) -> Result<(), TransitionError> {
    if actor.trim().is_empty() { Err(TransitionError::MissingActor) } else { Ok(()) }
}

/// Move one phase forward.
///
/// # Errors
/// [`TransitionError::AlreadyLast`] from `new`; [`TransitionError::MissingActor`] for a blank
/// actor.
pub fn advance(from: Phase, actor: &str, reason: &str) -> Result<Transition, TransitionError> {
    check_actor(actor)?;
    let to = from.next().ok_or(TransitionError::AlreadyLast)?;
    Ok(Transition {
        kind: TransitionKind::Advance,
        from,
        to,
        actor: actor.to_owned(),
        reason: reason.to_owned(),
        forced: false,
    })
}

/// Move back one phase, or to a named earlier phase.
///
/// Every rollback out of `dual-write`, `backfill` and `read-new` is safe: legacy is kept in sync
/// in those phases (or still authoritative). Leaving `new` is refused unless `force` is set,
/// because legacy stopped receiving writes when the domain entered `new`.
///
/// # Errors
/// [`TransitionError::AlreadyFirst`] from `legacy`; [`TransitionError::NotEarlier`] when the
/// target is not before `from`; [`TransitionError::LegacyOutOfSync`] when leaving `new` without
/// `force`; [`TransitionError::MissingActor`] for a blank actor.
pub fn rollback(
    from: Phase,
    target: RollbackTarget,
    force: bool,
    actor: &str,
    reason: &str,
) -> Result<Transition, TransitionError> {
    check_actor(actor)?;
    let to = match target {
        RollbackTarget::Previous => from.previous().ok_or(TransitionError::AlreadyFirst)?,
        RollbackTarget::To(to) if to < from => to,
        RollbackTarget::To(to) => return Err(TransitionError::NotEarlier { from, to }),
    };
    if from == Phase::New && !force {
        return Err(TransitionError::LegacyOutOfSync { to });
    }
    Ok(Transition {
        kind: TransitionKind::Rollback,
        from,
        to,
        actor: actor.to_owned(),
        reason: reason.to_owned(),
        forced: from == Phase::New,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn phase() -> impl Strategy<Value = Phase> {
        prop::sample::select(Phase::ALL.to_vec())
    }

    #[derive(Debug, Clone)]
    enum Op {
        Advance,
        Back,
        BackTo(Phase, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Advance),
            Just(Op::Back),
            (phase(), any::<bool>()).prop_map(|(p, f)| Op::BackTo(p, f)),
        ]
    }

    #[test]
    fn names_round_trip() {
        for p in Phase::ALL {
            assert_eq!(p.as_str().parse::<Phase>(), Ok(p));
        }
        assert!("dual_write".parse::<Phase>().is_err());
    }

    #[test]
    fn table_of_design_md() {
        use Side::*;
        let rows = [
            (Phase::Legacy, Legacy, None, false),
            (Phase::DualWrite, Legacy, Some(New), false),
            (Phase::Backfill, Legacy, Some(New), false),
            (Phase::ReadNew, New, Some(Legacy), true),
            (Phase::New, New, None, false),
        ];
        for (p, auth, synced, ramps) in rows {
            assert_eq!((p.authoritative(), p.synced(), p.ramps_reads()), (auth, synced, ramps));
        }
    }

    #[test]
    fn leaving_new_needs_force_and_says_why() {
        let err = rollback(Phase::New, RollbackTarget::Previous, false, "ops", "").unwrap_err();
        assert_eq!(err, TransitionError::LegacyOutOfSync { to: Phase::ReadNew });
        assert!(err.to_string().contains("no longer kept in sync"));
        let t = rollback(Phase::New, RollbackTarget::Previous, true, "ops", "").unwrap();
        assert!(t.forced);
    }

    proptest! {
        /// Any sequence of requested transitions keeps the machine on valid single steps:
        /// advance moves exactly one forward, a rollback always moves strictly back, `new` is
        /// only left with force, and refusals leave the phase unchanged.
        #[test]
        fn state_machine_invariants(start in phase(), ops in prop::collection::vec(op(), 0..40)) {
            let mut cur = start;
            for op in ops {
                let result = match op {
                    Op::Advance => advance(cur, "a", "r"),
                    Op::Back => rollback(cur, RollbackTarget::Previous, false, "a", "r"),
                    Op::BackTo(to, force) => rollback(cur, RollbackTarget::To(to), force, "a", "r"),
                };
                match result {
                    Ok(t) => {
                        prop_assert_eq!(t.from, cur);
                        match t.kind {
                            TransitionKind::Advance => prop_assert_eq!(t.to.position(), cur.position() + 1),
                            TransitionKind::Rollback => {
                                prop_assert!(t.to < cur);
                                prop_assert_eq!(t.forced, cur == Phase::New);
                            }
                        }
                        cur = t.to;
                    }
                    Err(TransitionError::AlreadyLast) => prop_assert_eq!(cur, Phase::New),
                    Err(TransitionError::AlreadyFirst) => prop_assert_eq!(cur, Phase::Legacy),
                    Err(TransitionError::NotEarlier { to, .. }) => prop_assert!(to >= cur),
                    Err(TransitionError::LegacyOutOfSync { .. }) => prop_assert_eq!(cur, Phase::New),
                    Err(TransitionError::MissingActor) => prop_assert!(false, "actor was given"),
                }
            }
        }

        /// Advancing from legacy four times reaches new, and every phase is reachable back.
        #[test]
        fn every_earlier_phase_is_reachable(from in phase(), to in phase()) {
            let r = rollback(from, RollbackTarget::To(to), true, "a", "r");
            prop_assert_eq!(r.is_ok(), to < from);
        }
    }
}
