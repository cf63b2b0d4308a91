//! The batch codec: how [`Change`]s cross the plug-in boundary.
//!
//! A batch is UTF-8 text with one JSON-serialised [`Change`] per line, each line terminated by
//! `\n` (the `Change` JSON shape is the one documented on [`Change`], e.g.
//! `{"op":"upsert","type":"User","id":"00u1","attrs":{…}}`). JSON never contains a raw newline
//! inside a value, so lines split unambiguously. Empty lines (including a missing final newline)
//! are ignored when decoding. The codec is pure and allocation-light so thousands of objects per
//! batch cost little more than their JSON.

use serde::Deserialize;

use crate::error::{ConnectorError, Result};
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
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |what: &dyn std::fmt::Display| {
            ConnectorError::protocol(format!(
                "change batch line {}: {what} (expected one JSON change per line)",
                index + 1
            ))
        };
        let wire: WireChange = serde_json::from_slice(line).map_err(|e| bad(&e))?;
        changes.push(wire.into_change().map_err(|e| bad(&e))?);
    }
    Ok(changes)
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
    #[serde(default)]
    attrs: Attributes,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    Upsert,
    Delete,
    ScopeComplete,
}

impl WireChange {
    fn into_change(self) -> std::result::Result<Change, &'static str> {
        Ok(match self.op {
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
        })
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
        }
    }
}
