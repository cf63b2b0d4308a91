//! The batch codec: how [`Change`]s cross the plug-in boundary.
//!
//! A batch is UTF-8 text with one JSON-serialised [`Change`] per line, each line terminated by
//! `\n` (the `Change` JSON shape is the one documented on [`Change`], e.g.
//! `{"op":"upsert","type":"User","id":"00u1","attrs":{…}}`). JSON never contains a raw newline
//! inside a value, so lines split unambiguously. Empty lines (including a missing final newline)
//! are ignored when decoding. The codec is pure and allocation-light so thousands of objects per
//! batch cost little more than their JSON.

//!
//! Exports use the same lines both ways: [`encode_export`] adds each change's idempotency `key`
//! to its `Change` JSON (a reader that does not know keys ignores the field), and the plug-in
//! answers with one [`ChangeOutcome`] JSON per line ([`encode_outcomes`], [`decode_outcomes`]).

use serde::Deserialize;

use crate::error::{ConnectorError, Result};
use crate::export::{ChangeOutcome, ExportChange, ExportStatus};
use crate::model::{Attributes, Change, Object, ObjectType, Scope};

/// Appends `changes` to `out` as JSON lines.
pub fn encode(changes: &[Change], out: &mut Vec<u8>) {
    for change in changes {
        // Serialising a `Change` into a Vec cannot fail: its attribute keys are strings and the
        // writer does not fail. Should it ever, the line is replaced by one the decoder rejects
        // loudly rather than dropped silently.
        if serde_json::to_writer(&mut *out, change).is_err() {
            out.extend_from_slice(b"{\"op\":\"unserialisable\"}");
        }
        out.push(b'\n');
    }
}

/// Decodes a batch produced by [`encode`] (or by any plug-in following `docs/abi.md`).
///
/// # Errors
/// [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) naming the 1-based line number and what is
/// wrong with it, for the first malformed line.
pub fn decode(bytes: &[u8]) -> Result<Vec<Change>> {
    let mut changes = Vec::with_capacity(bytes.len() / 128 + 1);
    for_each_line(bytes, "change batch", |line| {
        let wire: WireChange = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        changes.push(wire.into_change()?.0);
        Ok(())
    })?;
    Ok(changes)
}

/// Appends export changes to `out` as JSON lines: each change's JSON with its `key` added.
pub fn encode_export(changes: &[ExportChange], out: &mut Vec<u8>) {
    for change in changes {
        let line = serde_json::to_value(&change.change).map(|mut value| {
            if let Some(map) = value.as_object_mut() {
                map.insert("key".into(), change.key.clone().into());
            }
            value
        });
        // As in `encode`: an unserialisable change becomes a line the decoder rejects loudly.
        match line.and_then(|value| serde_json::to_writer(&mut *out, &value)) {
            Ok(()) => {}
            Err(_) => out.extend_from_slice(b"{\"op\":\"unserialisable\"}"),
        }
        out.push(b'\n');
    }
}

/// Decodes the export changes of [`encode_export`]. A line without a `key` gets its 1-based
/// line number as key.
///
/// # Errors
/// [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) naming the first malformed line.
pub fn decode_export(bytes: &[u8]) -> Result<Vec<ExportChange>> {
    let mut changes = Vec::new();
    let mut number = 0usize;
    for_each_line(bytes, "export batch", |line| {
        number += 1;
        let wire: WireChange = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let (change, key) = wire.into_change()?;
        let key = key.unwrap_or_else(|| number.to_string());
        changes.push(ExportChange::new(key, change));
        Ok(())
    })?;
    Ok(changes)
}

/// Appends one JSON line per outcome to `out`.
pub fn encode_outcomes(outcomes: &[ChangeOutcome], out: &mut Vec<u8>) {
    for outcome in outcomes {
        if serde_json::to_writer(&mut *out, outcome).is_err() {
            out.extend_from_slice(b"{\"status\":\"unserialisable\"}");
        }
        out.push(b'\n');
    }
}

/// Decodes the outcome lines of [`encode_outcomes`].
///
/// An outcome whose `status` this build does not know (a newer plug-in) or whose fields are
/// unreadable is decoded as `failed` (kind `internal`, naming the status): a host never counts an
/// outcome it cannot read as applied.
///
/// # Errors
/// [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) for a line that is not a JSON object with a
/// string `key`.
pub fn decode_outcomes(bytes: &[u8]) -> Result<Vec<ChangeOutcome>> {
    let mut outcomes = Vec::new();
    for_each_line(bytes, "export outcome", |line| {
        let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let key = value
            .get("key")
            .and_then(serde_json::Value::as_str)
            .ok_or("missing string field `key`")?
            .to_owned();
        let outcome = serde_json::from_value::<ChangeOutcome>(value.clone()).unwrap_or_else(|e| {
            let status = value.get("status").map_or("none".into(), ToString::to_string);
            ChangeOutcome::new(
                key,
                ExportStatus::Failed {
                    error: ConnectorError::internal(format!(
                        "the connector reported an outcome this host cannot read (status {status}: {e})"
                    ))
                    .with_remediation("Check whether the change was applied; use a host built against the connector's connector-api version"),
                },
            )
        });
        outcomes.push(outcome);
        Ok(())
    })?;
    Ok(outcomes)
}

/// Calls `f` with every non-blank line; an error names the 1-based line number.
fn for_each_line(
    bytes: &[u8],
    what: &str,
    mut f: impl FnMut(&[u8]) -> std::result::Result<(), String>,
) -> Result<()> {
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        f(line).map_err(|what_is_wrong| {
            ConnectorError::protocol(format!(
                "{what} line {}: {what_is_wrong} (expected one JSON object per line)",
                index + 1
            ))
        })?;
    }
    Ok(())
}

/// The JSON shape of every [`Change`] variant in one flat struct.
///
/// Decoding through it accepts exactly what `Change`'s own `Deserialize` accepts, but avoids
/// serde's buffering of internally tagged enums, which made decoding several times slower.
#[derive(Deserialize)]
struct WireChange {
    op: Op,
    #[serde(rename = "type")]
    object_type: ObjectType,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    within: Option<String>,
    #[serde(default, deserialize_with = "attributes")]
    attrs: Attributes,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    attribute: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

/// Decodes `attrs` like `Attributes`' own `Deserialize` (a later duplicate key wins), but builds
/// the map at once from its entries: they arrive sorted from an encoder that writes
/// `Attributes`, and a bulk build costs far less than inserting them one by one.
fn attributes<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> std::result::Result<Attributes, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = Attributes;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Attributes, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8).min(256));
            while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                entries.push(entry);
            }
            // `from_iter` sorts stably and keeps the last of equal keys, as `insert` would.
            Ok(entries.into_iter().collect())
        }
    }
    de.deserialize_map(Entries)
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    Upsert,
    Delete,
    ScopeComplete,
    DeleteWhere,
}

impl WireChange {
    fn into_change(self) -> std::result::Result<(Change, Option<String>), String> {
        let change = match self.op {
            Op::Upsert => Change::Upsert(Object {
                object_type: self.object_type,
                external_id: self.id.ok_or("missing field `id`")?,
                scope: self.scope,
                attributes: self.attrs,
            }),
            Op::Delete => Change::Delete {
                object_type: self.object_type,
                external_id: self.id.ok_or("missing field `id`")?,
            },
            Op::ScopeComplete => Change::ScopeComplete(Scope {
                object_type: self.object_type,
                within: self.within,
            }),
            Op::DeleteWhere => {
                let attribute = self.attribute.ok_or("missing field `attribute`")?;
                if !crate::is_valid_match_attribute(&attribute) {
                    return Err(format!(
                        "`attribute` \"{attribute}\" is not 1 to 64 letters, digits or `_`"
                    ));
                }
                Change::DeleteWhere {
                    object_type: self.object_type,
                    attribute,
                    value: self.value.ok_or("missing field `value`")?,
                }
            }
        };
        Ok((change, self.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::model::{Object, Scope};

    fn sample() -> Vec<Change> {
        vec![
            Change::Upsert(
                Object::new("User", "00u1")
                    .with("login", "ada@example.com")
                    .with("note", "line one\nline two")
                    .with("tags", serde_json::json!(["a", "b"])),
            ),
            Change::Upsert(Object::new("GroupMember", "00g1:00u1").in_scope("00g1")),
            Change::delete("User", "00u2"),
            Change::ScopeComplete(Scope::within("GroupMember", "00g1")),
            Change::ScopeComplete(Scope::whole("User")),
            Change::delete_where("GroupMember", "memberId", "00u2"),
        ]
    }

    #[test]
    fn round_trips_in_order() {
        let changes = sample();
        let mut out = Vec::new();
        encode(&changes, &mut out);
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), changes.len());
        assert_eq!(decode(&out).unwrap(), changes);
    }

    #[test]
    fn floats_cross_unchanged() {
        // Parsed back one digit off by `serde_json` without its `float_roundtrip` feature.
        for x in [1.590_467_775_081_852e-308, 0.1, 1e300, -2.5e-5, f64::MAX] {
            let change = Change::Upsert(Object::new("User", "u").with("x", x));
            let mut out = Vec::new();
            encode(std::slice::from_ref(&change), &mut out);
            assert_eq!(decode(&out).unwrap(), [change], "{x:e}");
        }
    }

    #[test]
    fn encode_appends() {
        let mut out = Vec::new();
        encode(&sample()[..2], &mut out);
        encode(&sample()[2..], &mut out);
        assert_eq!(decode(&out).unwrap(), sample());
    }

    #[test]
    fn empty_batch_and_blank_lines() {
        assert!(decode(b"").unwrap().is_empty());
        let text = b"\n{\"op\":\"delete\",\"type\":\"User\",\"id\":\"1\"}\r\n\n  \n";
        assert_eq!(decode(text).unwrap(), vec![Change::delete("User", "1")]);
        // A missing final newline is fine.
        let text = b"{\"op\":\"delete\",\"type\":\"User\",\"id\":\"1\"}";
        assert_eq!(decode(text).unwrap().len(), 1);
    }

    #[test]
    fn malformed_line_is_named() {
        let mut out = Vec::new();
        encode(&sample()[..2], &mut out);
        out.extend_from_slice(b"{\"op\":\"upsert\",\"type\":\"User\"\n");
        let err = decode(&out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(err.message().contains("line 3"), "{err}");
    }

    #[test]
    fn unknown_op_and_empty_type_are_rejected() {
        let err = decode(b"{\"op\":\"rename\",\"type\":\"User\",\"id\":\"1\"}\n").unwrap_err();
        assert!(err.message().contains("line 1"), "{err}");
        let err = decode(b"\n\n{\"op\":\"delete\",\"id\":\"1\"}").unwrap_err();
        assert!(err.message().contains("line 3"), "{err}");
    }

    #[test]
    fn decoding_agrees_with_the_model_serde() {
        let lines = [
            r#"{"op":"upsert","type":"User","id":"1","attrs":{"a":[1,{"b":null}]}}"#,
            r#"{"op":"upsert","type":"User","id":"1","attrs":{"b":1,"a":2,"b":3,"c":{"x":1,"x":2}}}"#,
            r#"{"op":"upsert","type":"User","id":"1","attrs":[]}"#,
            r#"{"op":"upsert","type":"User","id":"1","attrs":null}"#,
            r#"{"op":"upsert","type":"User","id":"1","attrs":{"a":1,}}"#,
            r#"{"op":"upsert","type":"User","id":"1"}"#,
            r#"{"id":"2","scope":"g","type":"M","op":"upsert","extra":true}"#,
            r#"{"op":"delete","type":"User","id":"1","attrs":{}}"#,
            r#"{"op":"scope_complete","type":"M","within":"g"}"#,
            r#"{"op":"scope_complete","type":"User"}"#,
            r#"{"op":"upsert","type":"User"}"#,
            r#"{"op":"delete","id":"1"}"#,
            r#"{"op":"upsert","type":"User","id":7}"#,
            r#"{"type":"User","id":"1"}"#,
        ];
        for line in lines {
            let ours = decode(line.as_bytes()).map(|mut v| v.remove(0)).ok();
            let theirs = serde_json::from_str::<Change>(line).ok();
            assert_eq!(ours, theirs, "{line}");
        }
    }

    #[test]
    fn export_batches_carry_keys_and_old_readers_ignore_them() {
        let changes = vec![
            ExportChange::new("k1", sample()[0].clone()),
            ExportChange::new("k2", sample()[2].clone()),
        ];
        let mut out = Vec::new();
        encode_export(&changes, &mut out);
        assert_eq!(decode_export(&out).unwrap(), changes);
        // A plain change batch reader (an older plug-in's) sees the same changes.
        assert_eq!(
            decode(&out).unwrap(),
            vec![sample()[0].clone(), sample()[2].clone()]
        );
        // Lines without a key are numbered.
        let plain = b"{\"op\":\"delete\",\"type\":\"User\",\"id\":\"1\"}\n\n{\"op\":\"delete\",\"type\":\"User\",\"id\":\"2\"}";
        let keys: Vec<String> = decode_export(plain)
            .unwrap()
            .into_iter()
            .map(|c| c.key)
            .collect();
        assert_eq!(keys, ["1", "2"]);
    }

    #[test]
    fn outcome_lines_round_trip_and_unknown_statuses_are_failures() {
        let outcomes = vec![
            ChangeOutcome::applied("a"),
            ChangeOutcome::unchanged("b"),
            ChangeOutcome::not_attempted("c"),
            ChangeOutcome::failed("d", ConnectorError::not_found("no group g9")),
        ];
        let mut out = Vec::new();
        encode_outcomes(&outcomes, &mut out);
        assert_eq!(decode_outcomes(&out).unwrap(), outcomes);
        let newer = br#"{"key":"e","status":"queued","eta":5,"extra":true}"#;
        let decoded = decode_outcomes(newer).unwrap();
        let ExportStatus::Failed { error } = &decoded[0].status else {
            panic!("an unknown status must be a failure: {decoded:?}")
        };
        assert_eq!(decoded[0].key, "e");
        assert!(error.message().contains("\"queued\""), "{error}");
        let extra = br#"{"key":"f","status":"applied","took_ms":3}"#;
        assert_eq!(
            decode_outcomes(extra).unwrap(),
            vec![ChangeOutcome::applied("f")]
        );
        let err = decode_outcomes(b"{\"status\":\"applied\"}").unwrap_err();
        assert!(
            err.message()
                .contains("export outcome line 1: missing string field `key`"),
            "{err}"
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: mutate a valid batch byte by byte.
        let mut base = Vec::new();
        encode(&sample(), &mut base);
        let mut state = 0x2545_f491_u32;
        for _ in 0..2_000 {
            let mut bytes = base.clone();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let at = state as usize % bytes.len();
                bytes[at] = (state >> 8) as u8;
            }
            let _ = decode(&bytes);
            let _ = decode_export(&bytes);
            let _ = decode_outcomes(&bytes);
        }
    }
}
