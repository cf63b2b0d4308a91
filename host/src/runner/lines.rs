//! Reading a batch as the plug-in boundary carries it (JSON lines, `connector_api::abi::batch`)
//! straight into an [`UpsertBatch`], without building [`Object`](connector_api::Object)s.
//!
//! An upsert line as `batch::encode` writes it —
//! `{"op":"upsert","type":…,"id":…,"scope":…,"attrs":{…}}` with plain strings and attributes
//! already canonical (compact, keys strictly ascending at every level, strings escaped as
//! `serde_json` escapes them, integers only) — is checked byte by byte and kept as spans of the
//! batch's text. Anything else (another change, another field order, escapes in the type or id,
//! fractions, `\u` escapes, invalid text…) is decoded by `batch::decode`, as before. The reader
//! thus accepts exactly what `decode` accepts, with the same meaning: a test checks both agree
//! on many mutated lines.

use connector_api::abi::batch;
use connector_api::{Change, ConnectorError};

use crate::store::to_json;
use crate::store::writer::{Upsert, UpsertBatch};

/// One change of a batch, in order.
#[derive(Debug)]
pub(super) enum Entry {
    /// The batch's next upsert.
    Upsert,
    /// Any other change.
    Other(Change),
}

/// Containers nested deeper than this are left to `serde_json` (its own limit is 128).
const MAX_DEPTH: usize = 32;

/// Integers longer than this many digits are left to `serde_json` (they may not fit 64 bits,
/// and `serde_json` writes those as floats).
const MAX_DIGITS: usize = 18;

/// Reads `bytes` (JSON lines): its upserts into a batch received at `at`, and every change in
/// order.
///
/// # Errors
/// A malformed line, as `batch::decode` reports it (kind `protocol`, the 1-based line number),
/// in the context "the connector sent a malformed batch". Nothing of the batch is returned.
pub(super) fn read(bytes: Vec<u8>, at: String) -> connector_api::Result<(UpsertBatch, Vec<Entry>)> {
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => return Err(malformed(e.as_bytes())),
    };
    let end = text.len();
    let mut entries = Vec::with_capacity(end / 128 + 1);
    // Upserts decoded the slow way are appended to the batch's text, after every line.
    let mut batch = UpsertBatch::over(text, at);
    let mut offset = 0;
    while offset < end {
        let rest = &batch.text()[offset..end];
        let len = rest.find('\n').unwrap_or(rest.len());
        let line = &rest[..len];
        let line = line.strip_suffix('\r').unwrap_or(line);
        let start = offset;
        offset += len + 1;
        if line.bytes().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        if let Some(spans) = upsert_line(line.as_bytes()) {
            let at = |r: std::ops::Range<usize>| start + r.start..start + r.end;
            batch.push_spans(
                at(spans.object_type),
                at(spans.external_id),
                spans.scope.map(at),
                at(spans.attributes),
            );
            entries.push(Entry::Upsert);
            continue;
        }
        let decoded = batch::decode(line.as_bytes());
        match decoded.as_deref() {
            Ok([Change::Upsert(object)]) => {
                batch.push(Upsert {
                    object_type: object.object_type.as_str(),
                    external_id: &object.external_id,
                    scope: object.scope.as_deref(),
                    attributes: &to_json(&object.attributes),
                });
                entries.push(Entry::Upsert);
            }
            Ok([_]) => entries.extend(decoded.into_iter().flatten().map(Entry::Other)),
            _ => return Err(malformed(&batch.text().as_bytes()[..end])),
        }
    }
    Ok((batch, entries))
}

/// The error `batch::decode` gives for `bytes` (the first malformed line, numbered in the
/// whole batch).
fn malformed(bytes: &[u8]) -> ConnectorError {
    let error = match batch::decode(bytes) {
        Err(e) => e,
        Ok(_) => ConnectorError::protocol("a change batch line could not be read"),
    };
    error.context("the connector sent a malformed batch")
}

/// Where the fields of an upsert line are (byte ranges of the line).
#[derive(Debug, PartialEq, Eq)]
struct Spans {
    object_type: std::ops::Range<usize>,
    external_id: std::ops::Range<usize>,
    scope: Option<std::ops::Range<usize>>,
    attributes: std::ops::Range<usize>,
}

/// The fields of `line` if it is an upsert in `batch::encode`'s exact shape with canonical
/// attributes; `None` leaves the line to `batch::decode`.
fn upsert_line(line: &[u8]) -> Option<Spans> {
    let mut c = Cursor { b: line, i: 0 };
    c.literal(b"{\"op\":\"upsert\",\"type\":\"")?;
    let object_type = c.plain_string()?;
    c.literal(b",\"id\":\"")?;
    let external_id = c.plain_string()?;
    let scope = match c.literal(b",\"scope\":\"") {
        Some(()) => Some(c.plain_string()?),
        None => None,
    };
    c.literal(b",\"attrs\":")?;
    let start = c.i;
    c.object(0)?;
    let attributes = start..c.i;
    c.literal(b"}")?;
    (c.i == line.len()).then_some(Spans {
        object_type,
        external_id,
        scope,
        attributes,
    })
}

/// A position in a line being checked.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }

    /// Consumes `word` if the line continues with it.
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let rest = self.b.get(self.i..)?;
        rest.starts_with(word).then(|| self.i += word.len())
    }

    /// A string without escapes or control characters, its opening quote already consumed;
    /// returns its contents' range and consumes the closing quote.
    fn plain_string(&mut self) -> Option<std::ops::Range<usize>> {
        let start = self.i;
        let len = self.b.get(start..)?.iter().position(|&b| b == b'"')?;
        let body = &self.b[start..start + len];
        if body.iter().any(|&b| b < 0x20 || b == b'\\') {
            return None;
        }
        self.i = start + len + 1;
        Some(start..start + len)
    }

    /// A string as `serde_json` writes one (opening quote already consumed): `"`, `\` and the
    /// control characters escaped, with their short form where JSON has one and `\u00xx`
    /// (lower-case hex) otherwise; nothing else escaped.
    fn canonical_string(&mut self) -> Option<()> {
        loop {
            let b = self.peek()?;
            self.i += 1;
            match b {
                b'"' => return Some(()),
                b'\\' => self.canonical_escape()?,
                0..0x20 => return None,
                _ => {}
            }
        }
    }

    /// The escape after a backslash, if `serde_json` would write it.
    fn canonical_escape(&mut self) -> Option<()> {
        let e = self.peek()?;
        self.i += 1;
        match e {
            b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => {
                let hex = self.b.get(self.i..self.i + 4)?;
                self.i += 4;
                let low = match hex {
                    [b'0', b'0', b'0' | b'1', low] => *low,
                    _ => return None,
                };
                let short_form = hex[2] == b'0' && matches!(low, b'8' | b'9' | b'a' | b'c' | b'd');
                (matches!(low, b'0'..=b'9' | b'a'..=b'f') && !short_form).then_some(())
            }
            _ => None,
        }
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.canonical_string()
            }
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.integer(),
        }
    }

    /// An object with plain keys in strictly ascending order (so no duplicates).
    fn object(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH || !self.eat(b'{') {
            return None;
        }
        if self.eat(b'}') {
            return Some(());
        }
        let mut previous: Option<std::ops::Range<usize>> = None;
        loop {
            if !self.eat(b'"') {
                return None;
            }
            let key = self.plain_string()?;
            if let Some(p) = previous
                && self.b[p] >= self.b[key.clone()]
            {
                return None;
            }
            previous = Some(key);
            if !self.eat(b':') {
                return None;
            }
            self.value(depth)?;
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH || !self.eat(b'[') {
            return None;
        }
        if self.eat(b']') {
            return Some(());
        }
        loop {
            self.value(depth)?;
            if self.eat(b']') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// An integer as `serde_json` writes an `i64` or `u64`: no leading zero, no `-0`, and
    /// short enough to fit either.
    fn integer(&mut self) -> Option<()> {
        let negative = self.eat(b'-');
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        let digits = &self.b[start..self.i];
        let canonical = match digits {
            [] => false,
            [b'0'] => !negative,
            [first, ..] => *first != b'0' && digits.len() <= MAX_DIGITS,
        };
        canonical.then_some(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use connector_api::{Object, Scope};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// What `batch::decode` makes of a one-line batch, as the store would get it.
    fn slow(line: &[u8]) -> Option<(String, String, Option<String>, String)> {
        match batch::decode(line).ok()?.pop()? {
            Change::Upsert(o) => Some((
                o.object_type.as_str().to_owned(),
                o.external_id,
                o.scope,
                to_json(&o.attributes),
            )),
            _ => None,
        }
    }

    fn fast(line: &[u8]) -> Option<(String, String, Option<String>, String)> {
        let spans = upsert_line(line)?;
        let text = std::str::from_utf8(line).ok()?;
        Some((
            text[spans.object_type].to_owned(),
            text[spans.external_id].to_owned(),
            spans.scope.map(|s| text[s].to_owned()),
            text[spans.attributes].to_owned(),
        ))
    }

    fn encoded(changes: &[Change]) -> Vec<u8> {
        let mut out = Vec::new();
        batch::encode(changes, &mut out);
        out
    }

    fn samples() -> Vec<Change> {
        vec![
            Change::Upsert(
                Object::new("User", "00u1")
                    .with("login", "ada@example.com")
                    .with("note", "line one\nline \"two\"\t\\ é ✓ \u{1}\u{7f}")
                    .with("n", 0)
                    .with("big", 123_456_789_012_345_678_i64)
                    .with("neg", -42)
                    .with("ok", true)
                    .with("none", serde_json::Value::Null)
                    .with(
                        "nested",
                        json!({"b": [1, {"y": [], "x": {}}], "a": "z", "": false}),
                    ),
            ),
            Change::Upsert(Object::new("GroupMember", "00g1:00u1").in_scope("00g1")),
            Change::Upsert(Object::new("User", "").with("f", 1.5)),
            Change::Upsert(Object::new("Ünïcode", "ïd ✓").in_scope("ß")),
            Change::Upsert(Object::new("User", "u").with("huge", u64::MAX)),
            Change::delete("User", "00u2"),
            Change::ScopeComplete(Scope::within("GroupMember", "00g1")),
            Change::delete_where("GroupMember", "memberId", "00u2"),
        ]
    }

    #[test]
    fn the_encoders_upserts_take_the_fast_path_and_read_as_decode_reads_them() {
        for change in &samples()[..2] {
            let line = encoded(std::slice::from_ref(change));
            let line = line.strip_suffix(b"\n").unwrap();
            assert!(fast(line).is_some(), "{}", String::from_utf8_lossy(line));
            assert_eq!(fast(line), slow(line));
        }
    }

    #[test]
    fn what_is_not_canonical_is_left_to_decode() {
        for line in [
            &br#"{"op":"upsert","type":"User","id":"u","attrs":{"f":1.5}}"#[..],
            br#"{"op":"upsert","type":"User","id":"u","attrs":{"b":1,"a":2}}"#,
            br#"{"op":"upsert","type":"User","id":"u","attrs":{"a":1,"a":2}}"#,
            br#"{"op":"upsert","type":"User","id":"u","attrs":{"a":"\u00e9"}}"#,
            br#"{"op":"upsert","type":"User","id":"u","attrs":{"a":"\u000a"}}"#,
            br#"{"op":"upsert","type":"User","id":"u","attrs":{"a":"\u001F"}}"#,
            br#"{"op":"upsert","type":"User","id":"u","attrs":{"a":"\/"}}"#,
            br#"{"op":"upsert","type":"User","id":"u","attrs":{"a":-0}}"#,
            br#"{"op":"upsert","type":"User","id":"u","attrs":{"a":18446744073709551615}}"#,
            br#"{"op":"upsert","type":"User","id":"u","attrs":{"a": 1}}"#,
            br#"{"op":"upsert","type":"User","id":"u\"v","attrs":{}}"#,
            br#"{"op":"upsert","id":"u","type":"User","attrs":{}}"#,
            br#"{"op":"upsert","type":"User","id":"u","attrs":{},"key":"k"}"#,
            br#"{"op":"upsert","type":"User","id":"u","scope":null,"attrs":{}}"#,
        ] {
            assert_eq!(upsert_line(line), None, "{}", String::from_utf8_lossy(line));
            assert!(slow(line).is_some(), "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn a_batch_reads_in_order_with_every_change() {
        let changes = samples();
        let bytes = encoded(&changes);
        let (batch, entries) = read(bytes, "t".into()).unwrap();
        assert_eq!(batch.len(), 5);
        assert_eq!(entries.len(), changes.len());
        let mut upserts = batch.iter();
        for (entry, change) in entries.iter().zip(&changes) {
            match (entry, change) {
                (Entry::Upsert, Change::Upsert(o)) => {
                    let u = upserts.next().unwrap();
                    assert_eq!(u.object_type, o.object_type.as_str());
                    assert_eq!(u.external_id, o.external_id);
                    assert_eq!(u.scope, o.scope.as_deref());
                    assert_eq!(u.attributes, to_json(&o.attributes));
                }
                (Entry::Other(got), want) => assert_eq!(got, want),
                (got, want) => panic!("{got:?} for {want:?}"),
            }
        }
    }

    #[test]
    fn a_malformed_line_fails_the_whole_batch_as_decode_does() {
        let mut bytes = encoded(&samples());
        bytes.extend_from_slice(b"{\"op\":\"upsert\",\"type\":\"User\"}\n");
        let err = read(bytes.clone(), "t".into()).unwrap_err();
        let want = batch::decode(&bytes).unwrap_err();
        assert_eq!(err.kind(), want.kind());
        assert!(err.to_string().contains(want.message()), "{err}");
        assert!(err.to_string().contains("malformed batch"), "{err}");
        let err = read(b"\xff\n".to_vec(), "t".into()).unwrap_err();
        assert_eq!(err.kind(), connector_api::ErrorKind::Protocol);
    }

    /// Arrays and objects (keys from `keys`) of `leaf` values, nested up to four levels.
    fn nested(
        leaf: impl Strategy<Value = serde_json::Value> + 'static,
        keys: &'static str,
    ) -> impl Strategy<Value = serde_json::Value> {
        leaf.prop_recursive(4, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map(keys, inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Any attribute value: every JSON kind, strings with quotes, controls and non-ASCII,
    /// integers of any size and floats.
    fn any_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            "\\PC*|[\"\\\\\u{0}-\u{1f}é✓a-z]{0,8}".prop_map(serde_json::Value::from),
        ];
        nested(leaf, "[a-zA-Z\"\\\\é]{0,5}")
    }

    /// What `batch::encode` writes for canonical attributes: plain strings and integers that
    /// fit, nested no deeper than the reader follows.
    fn canonical_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            (-999_999_999_999_999_999_i64..=999_999_999_999_999_999)
                .prop_map(serde_json::Value::from),
            "[ -~é✓\n\t]{0,12}".prop_map(serde_json::Value::from),
        ];
        nested(leaf, "[a-zA-Z_.]{0,6}")
    }

    fn object_with(
        attributes: BTreeMap<String, serde_json::Value>,
        id: &str,
        scope: Option<String>,
    ) -> Object {
        let mut object = Object::new("User", id);
        object.scope = scope;
        object.attributes = attributes.into_iter().collect();
        object
    }

    proptest! {
        /// Whatever path a line takes, the store gets what the connector sent.
        #[test]
        fn every_upsert_reads_back_as_sent(
            attributes in prop::collection::btree_map("\\PC{0,6}", any_value(), 0..6),
            id in "\\PC{0,10}",
            scope in proptest::option::of("\\PC{0,6}"),
        ) {
            let object = object_with(attributes, &id, scope);
            let bytes = encoded(&[Change::Upsert(object.clone())]);
            let (batch, entries) = read(bytes, "t".into()).unwrap();
            prop_assert!(matches!(entries.as_slice(), [Entry::Upsert]));
            let got = batch.get(0).unwrap();
            prop_assert_eq!(got.object_type, "User");
            prop_assert_eq!(got.external_id, object.external_id.as_str());
            prop_assert_eq!(got.scope, object.scope.as_deref());
            prop_assert_eq!(got.attributes, to_json(&object.attributes));
        }

        /// What the encoder writes for plain ids and canonical attributes never leaves the
        /// byte-level path (so real batches are not decoded after all).
        #[test]
        fn canonical_upserts_take_the_fast_path(
            attributes in prop::collection::btree_map("[a-zA-Z_.]{0,8}", canonical_value(), 0..8),
            id in "[0-9a-zA-Z:]{0,24}",
            scope in proptest::option::of("[0-9a-zA-Z]{0,20}"),
        ) {
            let object = object_with(attributes, &id, scope);
            let mut line = encoded(&[Change::Upsert(object)]);
            line.pop();
            prop_assert!(upsert_line(&line).is_some(), "{}", String::from_utf8_lossy(&line));
        }
    }

    /// A small deterministic generator (xorshift) for the agreement test.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn agrees_with_decode_on_mutated_lines() {
        let lines: Vec<Vec<u8>> = samples()
            .iter()
            .map(|c| {
                let mut line = encoded(std::slice::from_ref(c));
                line.pop();
                line
            })
            .collect();
        let alphabet = b"{}[]\",:\\-0123456789.eE abtfnrul\x01\x7f";
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let mut fast_hits = 0;
        for _ in 0..100_000 {
            let mut line = lines[rng.below(lines.len())].clone();
            for _ in 0..=rng.below(3) {
                let at = rng.below(line.len() + 1);
                let byte = alphabet[rng.below(alphabet.len())];
                match rng.below(3) {
                    0 if at < line.len() => line[at] = byte,
                    1 if at < line.len() => {
                        line.remove(at);
                    }
                    _ => line.insert(at, byte),
                }
            }
            if let Some(got) = fast(&line) {
                fast_hits += 1;
                assert_eq!(Some(got), slow(&line), "{}", String::from_utf8_lossy(&line));
            }
        }
        // The mutations must leave many lines on the fast path, or the test checks little.
        assert!(fast_hits > 2_000, "{fast_hits}");
    }
}
