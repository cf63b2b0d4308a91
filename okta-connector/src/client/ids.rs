//! Reading only the top-level `id` of each object of a JSON array page, without decoding the
//! rest: a member page carries whole user objects (about 1.3 KB each) of which a membership
//! needs the id alone. Skipping them with `serde` costs ~20,000 instructions per member; this
//! scanner validates the whole page as JSON (so it accepts exactly what `serde_json` accepts,
//! see the tests) at a few instructions per byte and allocates one string per id.
//!
//! Anything the scanner does not handle itself (an `id` that is not a plain string without
//! escapes, a duplicate `id`, nesting deeper than [`MAX_DEPTH`], a missing `id`, invalid JSON)
//! makes it answer `None`; the caller then decodes the page with `serde`, which accepts it or
//! names the problem.

/// Nesting the scanner follows; deeper pages go to `serde` (whose own limit is 128).
const MAX_DEPTH: usize = 64;

/// The top-level `id` strings of a JSON array of objects, in order; `None` when the page is not
/// one the scanner can vouch for (see the module doc).
pub fn array_of_ids(body: &[u8]) -> Option<Vec<String>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut s = Scanner {
        b: text.as_bytes(),
        at: 0,
    };
    s.ws();
    s.expect(b'[')?;
    let mut ids = Vec::with_capacity(body.len() / 1024 + 1);
    s.ws();
    if s.eat(b']') {
        s.ws();
        return s.at_end().then_some(ids);
    }
    loop {
        ids.push(s.object_id()?);
        s.ws();
        match s.next()? {
            b',' => s.ws(),
            b']' => break,
            _ => return None,
        }
    }
    s.ws();
    s.at_end().then_some(ids)
}

/// A position in a page known to be UTF-8.
struct Scanner<'a> {
    b: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn at_end(&self) -> bool {
        self.at == self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.at += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    /// One object of the array: its members, of which `id` (exactly once) is kept.
    fn object_id(&mut self) -> Option<String> {
        self.expect(b'{')?;
        let mut id = None;
        self.ws();
        if self.eat(b'}') {
            return None;
        }
        loop {
            let (start, escaped) = self.string()?;
            // An escaped key may spell `id` for serde: leave such a page to it.
            if escaped {
                return None;
            }
            let key = &self.b[start..self.at - 1];
            self.ws();
            self.expect(b':')?;
            self.ws();
            if key == b"id" {
                if id.is_some() || self.peek() != Some(b'"') {
                    return None;
                }
                let (start, escaped) = self.string()?;
                if escaped {
                    return None;
                }
                // The page is UTF-8 and the string ends at a quote: a valid `str`.
                id = Some(
                    std::str::from_utf8(&self.b[start..self.at - 1])
                        .ok()?
                        .to_owned(),
                );
            } else {
                self.value(1)?;
            }
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b'}' => return id,
                _ => return None,
            }
        }
    }

    /// Skips one value, checking it is valid JSON; `depth` is the nesting it starts at.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => self.container(depth),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.b.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// An object or array, its members checked recursively up to [`MAX_DEPTH`].
    fn container(&mut self, depth: usize) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let close = if self.next()? == b'{' { b'}' } else { b']' };
        self.ws();
        if self.eat(close) {
            return Some(());
        }
        loop {
            if close == b'}' {
                self.string()?;
                self.ws();
                self.expect(b':')?;
                self.ws();
            }
            self.value(depth + 1)?;
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                c if c == close => return Some(()),
                _ => return None,
            }
        }
    }

    /// A string starting at the current quote; returns where its content starts and whether it
    /// has escapes, and leaves the position after the closing quote.
    fn string(&mut self) -> Option<(usize, bool)> {
        self.expect(b'"')?;
        let start = self.at;
        let mut escaped = false;
        loop {
            self.at += special(self.b.get(self.at..)?)?;
            match self.next()? {
                b'"' => return Some((start, escaped)),
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                _ => return None,
            }
        }
    }

    /// The rest of an escape after its backslash.
    fn escape(&mut self) -> Option<()> {
        match self.next()? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => {
                let hex = self.b.get(self.at..self.at + 4)?;
                self.at += 4;
                hex.iter().all(u8::is_ascii_hexdigit).then_some(())
            }
            _ => None,
        }
    }

    /// A number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        if !self.eat(b'0') {
            if !matches!(self.peek(), Some(b'1'..=b'9')) {
                return None;
            }
            self.digits();
        }
        if self.eat(b'.') && self.digits() == 0 {
            return None;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    fn digits(&mut self) -> usize {
        let n = self.b[self.at..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        self.at += n;
        n
    }
}

/// The first `"`, `\\` or control character of `bytes`, eight bytes at a time: in each word, a
/// byte equal to `"` or `\\` becomes zero after the XOR, and subtracting 1 (or 0x20) from every
/// byte sets the top bit of a byte that was zero (or below 0x20). Borrows only run upwards, so
/// the lowest flagged byte is always a true match.
fn special(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        if let Some(n) = special_in(eight) {
            return Some(at + n);
        }
        at += 8;
    }
    // The tail, padded with spaces (never special).
    let tail = words.remainder();
    let mut eight = [b' '; 8];
    eight[..tail.len()].copy_from_slice(tail);
    special_in(eight).map(|n| at + n)
}

/// The index of the first special byte of one word (see [`special`]).
fn special_in(word: [u8; 8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_le_bytes(word);
    let quote = x ^ (ONES * u64::from(b'"'));
    let backslash = x ^ (ONES * u64::from(b'\\'));
    let flagged = (quote.wrapping_sub(ONES) & !quote)
        | (backslash.wrapping_sub(ONES) & !backslash)
        | (x.wrapping_sub(ONES * 0x20) & !x);
    let flagged = flagged & TOPS;
    (flagged != 0).then(|| flagged.trailing_zeros() as usize / 8)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Item {
        id: String,
    }

    /// What `serde_json` makes of the page, as ids.
    fn serde_ids(body: &[u8]) -> Option<Vec<String>> {
        serde_json::from_slice::<Vec<Item>>(body)
            .ok()
            .map(|items| items.into_iter().map(|i| i.id).collect())
    }

    const PAGE: &str = r#" [
        {"_links":{"self":{"href":"https://x/api/v1/users/00u1"}},"id":"00u1",
         "profile":{"name":"Zoë \"Z\" \u00e9\n","floors":[10,-3.5e2,0,1E+2],"x":null,
                    "ok":true,"no":false,"deep":[[{"id":"not this one"}]]}},
        {"id" : "00u2" , "status":"ACTIVE"},
        {"profile":{},"id":"00u3","id_":"x"}
    ] "#;

    #[test]
    fn special_finds_the_first_quote_backslash_or_control_character() {
        let plain = |c: u8| c != b'"' && c != b'\\' && c >= 0x20;
        let mut state = 0x1234_5678_u32;
        for len in 0..40 {
            for _ in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        // Mostly ordinary bytes (ASCII and UTF-8 continuation bytes).
                        match state % 16 {
                            0 => b'"',
                            1 => b'\\',
                            2 => (state >> 8) as u8 % 0x20,
                            3 => 0x21 + (state >> 8) as u8 % 0x40,
                            _ => 0x20 + (state >> 8) as u8 % 0xe0,
                        }
                    })
                    .collect();
                let want = bytes.iter().position(|&c| !plain(c));
                assert_eq!(special(&bytes), want, "{bytes:?}");
            }
        }
    }

    #[test]
    fn reads_the_top_level_ids_in_order() {
        assert_eq!(
            array_of_ids(PAGE.as_bytes()).unwrap(),
            ["00u1", "00u2", "00u3"]
        );
        assert_eq!(array_of_ids(b"[]").unwrap(), Vec::<String>::new());
        assert_eq!(array_of_ids(b" [ ] \n").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn leaves_to_serde_what_it_does_not_vouch_for() {
        for body in [
            r#"[{"id":"a\u0062"}]"#,         // escaped id: serde decodes it
            r#"[{"i\u0064":"a"}]"#,          // escaped key
            r#"[{"id":"a","id":"b"}]"#,      // duplicate id: serde refuses
            r#"[{"name":"a"}]"#,             // missing id
            r#"[{"id":5}]"#,                 // not a string
            r#"[{}]"#,                       // no id
            r#"[{"id":"a"},]"#,              // trailing comma
            r#"[{"id":"a"}] x"#,             // trailing data
            r#"[{"id":"a","n":01}]"#,        // bad number
            r#"[{"id":"a","n":1.}]"#,        // bad number
            r#"[{"id":"a","n":tru}]"#,       // bad literal
            r#"[{"id":"a","n":[1}]"#,        // mismatched bracket
            r#"[{"id":"a","n":"\x"}]"#,      // bad escape
            r#"[{"id":"a","n":"\u12G4"}]"#,  // bad \u escape
            "[{\"id\":\"a\",\"n\":\"\t\"}]", // raw control character
            r#"{"id":"a"}"#,                 // not an array
            r#"[{"id":"a"}"#,                // cut short
        ] {
            assert_eq!(array_of_ids(body.as_bytes()), None, "{body}");
        }
        let deep = format!(
            r#"[{{"id":"a","n":{}1{}}}]"#,
            "[".repeat(70),
            "]".repeat(70)
        );
        assert_eq!(array_of_ids(deep.as_bytes()), None);
        assert_eq!(array_of_ids(b"[{\"id\":\"a\",\"n\":\"\xff\"}]"), None);
    }

    #[test]
    fn agrees_with_serde_on_mutated_pages() {
        // Deterministic fuzz: whenever the scanner answers, serde answers the same; the
        // scanner never accepts a page serde refuses (and never panics).
        let base = PAGE.as_bytes().to_vec();
        let mut state = 0x9e37_79b9_u32;
        let mut answered = 0;
        for _ in 0..20_000 {
            let mut bytes = base.clone();
            for _ in 0..1 + state as usize % 3 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let at = state as usize % bytes.len();
                let choices = b"\"\\{}[]:,0-.eE tfn\x01a";
                bytes[at] = choices[(state >> 8) as usize % choices.len()];
            }
            if let Some(ids) = array_of_ids(&bytes) {
                answered += 1;
                assert_eq!(
                    Some(ids),
                    serde_ids(&bytes),
                    "{}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
        assert!(
            answered > 100,
            "the mutations left too few valid pages: {answered}"
        );
    }
}
