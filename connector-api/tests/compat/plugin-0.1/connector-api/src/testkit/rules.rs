//! The observable rules of one import run, as a pure function over what the run emitted.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Change, Descriptor, ImportMode, ImportOutcome, ObjectType, Scope};

/// Checks the changes of one import run against the [`Connector`](crate::Connector) contract and
/// returns every violation found, in words (empty when the run is clean).
///
/// Checked: every type is declared in the descriptor and objects carry a scope exactly when their
/// type is `scoped`; no scope is completed twice; no object of a completed scope is emitted after
/// its marker (so every object of the scope came before it); a delta run never completes a whole
/// type; a skipped scope is never completed; a connector without
/// [`Capabilities::scope_complete`](crate::Capabilities) emits no markers; sub-scopes are only
/// completed for scoped types.
///
/// Pass `outcome` when the run succeeded. Usable on any recorded run, for example in a
/// connector's own tests.
pub fn contract_violations(
    descriptor: &Descriptor,
    mode: ImportMode,
    changes: &[Change],
    outcome: Option<&ImportOutcome>,
) -> Vec<String> {
    let declared: BTreeMap<&ObjectType, bool> = descriptor
        .object_types
        .iter()
        .map(|t| (&t.name, t.scoped))
        .collect();
    let mut violations = Vec::new();
    let mut undeclared = BTreeSet::new();
    let mut completed: BTreeMap<&Scope, usize> = BTreeMap::new();
    let mut report = |v: String| {
        if violations.len() < 20 {
            violations.push(v);
        }
    };
    for (index, change) in changes.iter().enumerate() {
        let object_type = change.object_type();
        let Some(&scoped) = declared.get(object_type) else {
            if undeclared.insert(object_type.clone()) {
                report(format!(
                    "change {index} has type `{object_type}`, which the descriptor does not declare"
                ));
            }
            continue;
        };
        match change {
            Change::Upsert(object) => {
                if scoped != object.scope.is_some() {
                    report(format!(
                        "change {index}: `{object_type}` {} {} a scope, but the descriptor says the type is{} scoped",
                        object.external_id,
                        if object.scope.is_some() {
                            "has"
                        } else {
                            "lacks"
                        },
                        if scoped { "" } else { " not" },
                    ));
                }
                let whole = Scope::whole(object_type.clone());
                let mut done = completed.get_key_value(&whole).map(|(s, at)| (*s, *at));
                if let Some(within) = &object.scope {
                    let sub = Scope::within(object_type.clone(), within.clone());
                    done = done.or(completed.get_key_value(&sub).map(|(s, at)| (*s, *at)));
                }
                if let Some((scope, at)) = done {
                    report(format!(
                        "change {index} upserts `{object_type}` {} after scope {scope} was marked complete at change {at}",
                        object.external_id
                    ));
                }
            }
            Change::Delete { .. } => {}
            Change::ScopeComplete(scope) => {
                if !descriptor.capabilities.scope_complete {
                    report(format!(
                        "change {index} completes scope {scope}, but the descriptor does not declare the scope_complete capability"
                    ));
                }
                if scope.within.is_some() && !scoped {
                    report(format!(
                        "change {index} completes sub-scope {scope} of a type the descriptor does not declare scoped"
                    ));
                }
                if mode == ImportMode::Delta && scope.within.is_none() {
                    report(format!(
                        "change {index}: a delta run completed the whole type {scope}; deltas may only complete sub-scopes they re-read entirely"
                    ));
                }
                if let Some(first) = completed.get(scope) {
                    report(format!(
                        "change {index} completes scope {scope} a second time (first at change {first})"
                    ));
                } else {
                    completed.insert(scope, index);
                }
            }
        }
    }
    if let Some(outcome) = outcome {
        for skip in &outcome.skipped {
            let clash = completed.keys().find(|done| {
                **done == &skip.scope
                    || (skip.scope.within.is_none() && done.object_type == skip.scope.object_type)
            });
            if let Some(done) = clash {
                report(format!(
                    "scope {done} was marked complete although the run skipped {} ({})",
                    skip.scope, skip.reason
                ));
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::model::{Capabilities, Object, ObjectTypeInfo, Skipped};

    fn descriptor() -> Descriptor {
        Descriptor {
            name: "t".into(),
            version: "1.0.0".into(),
            description: String::new(),
            object_types: vec![
                ObjectTypeInfo {
                    name: "User".into(),
                    description: String::new(),
                    scoped: false,
                },
                ObjectTypeInfo {
                    name: "Member".into(),
                    description: String::new(),
                    scoped: true,
                },
            ],
            capabilities: Capabilities {
                delta: true,
                export: false,
                scope_complete: true,
            },
        }
    }

    fn done(scope: Scope) -> Change {
        Change::ScopeComplete(scope)
    }

    #[test]
    fn a_clean_run_has_no_violations() {
        let changes = vec![
            Change::Upsert(Object::new("User", "1")),
            done(Scope::whole("User")),
            Change::Upsert(Object::new("Member", "g:1").in_scope("g")),
            done(Scope::within("Member", "g")),
            Change::Upsert(Object::new("Member", "h:1").in_scope("h")),
            done(Scope::whole("Member")),
        ];
        let v = contract_violations(&descriptor(), ImportMode::Full, &changes, None);
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn each_rule_is_reported() {
        let changes = vec![
            Change::Upsert(Object::new("Thing", "1")),
            Change::Upsert(Object::new("User", "1").in_scope("x")),
            done(Scope::whole("User")),
            done(Scope::whole("User")),
            Change::Upsert(Object::new("User", "2")),
            done(Scope::within("User", "x")),
        ];
        let outcome = ImportOutcome {
            skipped: vec![Skipped {
                scope: Scope::whole("User"),
                reason: "forbidden".into(),
                kind: ErrorKind::PermissionDenied,
            }],
            ..ImportOutcome::default()
        };
        let v = contract_violations(&descriptor(), ImportMode::Delta, &changes, Some(&outcome));
        let all = v.join("\n");
        for needle in [
            "does not declare",
            "has a scope",
            "a second time",
            "after scope User was marked complete",
            "delta run completed the whole type",
            "not declare scoped",
            "although the run skipped",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }
}
