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

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.at += usize::from(hit);
        hit
    }

    #[inline(always)]
    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    /// Skips whitespace; the usual case, none, costs one comparison.
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.at) {
            if c > b' ' || !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return;
            }
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
            self.expect(b'"')?;
            let start = self.at;
            // An escaped key may spell `id` for serde: leave such a page to it.
            if self.string_rest()? {
                return None;
            }
            let key = &self.b[start..self.at - 1];
            self.ws();
            self.expect(b':')?;
            self.ws();
            if key == b"id" {
                if id.is_some() || !self.eat(b'"') {
                    return None;
                }
                let start = self.at;
                if self.string_rest()? {
                    return None;
                }
                id = Some(start..self.at - 1);
            } else {
                self.value()?;
            }
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b'}' => break,
                _ => return None,
            }
        }
        // The page is UTF-8 and the id ends at a quote: a valid `str`.
        Some(std::str::from_utf8(&self.b[id?]).ok()?.to_owned())
    }

    /// Skips the value of a member of a top-level object, checking it is valid JSON with at
    /// most `MAX_DEPTH - 1` containers open at once. Iterative: the open containers are a stack
    /// of bits (1 for an object), which [`MAX_DEPTH`] keeps within a `u64`.
    fn value(&mut self) -> Option<()> {
        let mut objects: u64 = 0;
        let mut depth = 0;
        loop {
            // One value, or the opening of a container and its first member's key.
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    self.string_rest()?;
                }
                open @ (b'{' | b'[') => {
                    if depth + 1 >= MAX_DEPTH {
                        return None;
                    }
                    self.at += 1;
                    self.ws();
                    let object = open == b'{';
                    if !self.eat(if object { b'}' } else { b']' }) {
                        objects = objects << 1 | u64::from(object);
                        depth += 1;
                        if object {
                            self.key()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => self.number()?,
            }
            // After a whole value: close what ends here, up to the next member.
            loop {
                if depth == 0 {
                    return Some(());
                }
                self.ws();
                let object = objects & 1 == 1;
                match self.next()? {
                    b',' => {
                        self.ws();
                        if object {
                            self.key()?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return None,
                }
                objects >>= 1;
                depth -= 1;
            }
        }
    }

    /// A member's key and colon, up to its value.
    #[inline(always)]
    fn key(&mut self) -> Option<()> {
        self.expect(b'"')?;
        self.string_rest()?;
        self.ws();
        self.expect(b':')?;
        self.ws();
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.b.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// The rest of a string after its opening quote: leaves the position after the closing
    /// quote and tells whether the string has escapes.
    #[inline(always)]
    fn string_rest(&mut self) -> Option<bool> {
        let mut escaped = false;
        loop {
            self.at = special(self.b, self.at)?;
            match self.next()? {
                b'"' => return Some(escaped),
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

/// Where the first `"`, `\\` or control character of `bytes` at or after `at` is, eight bytes at a
/// time: in each word, a byte equal to `"` or `\\` becomes zero after the XOR, and subtracting 1
/// (or 0x20) from every byte sets the top bit of a byte that was zero (or below 0x20). Borrows
/// only run upwards, so the lowest flagged byte is always a true match.
#[inline(always)]
fn special(bytes: &[u8], mut at: usize) -> Option<usize> {
    let words_end = bytes.len().saturating_sub(7);
    while at < words_end {
        let word: [u8; 8] = bytes[at..at + 8].try_into().ok()?;
        let flagged = special_in(u64::from_le_bytes(word));
        if flagged != 0 {
            return Some(at + flagged.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    // The tail, shorter than a word.
    let n = bytes
        .get(at..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
    Some(at + n)
}

/// The top bit of each special byte of one little-endian word, and perhaps of bytes after the
/// first special one (see [`special`]).
#[inline(always)]
fn special_in(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let quote = x ^ (ONES * u64::from(b'"'));
    let backslash = x ^ (ONES * u64::from(b'\\'));
    ((quote.wrapping_sub(ONES) & !quote)
        | (backslash.wrapping_sub(ONES) & !backslash)
        | (x.wrapping_sub(ONES * 0x20) & !x))
        & TOPS
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
                for from in 0..=len {
                    let want = bytes[from..].iter().position(|&c| !plain(c));
                    assert_eq!(special(&bytes, from), want.map(|n| from + n), "{bytes:?}");
                }
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
        let deep = |open: &str, close: &str, n: usize| {
            format!(
                r#"[{{"id":"a","n":{}1{}}}]"#,
                open.repeat(n),
                close.repeat(n)
            )
        };
        assert_eq!(array_of_ids(deep("[", "]", 70).as_bytes()), None);
        // Up to 63 containers open inside an item are followed; one more goes to serde.
        assert_eq!(array_of_ids(deep("[", "]", 63).as_bytes()).unwrap(), ["a"]);
        assert_eq!(array_of_ids(deep("[", "]", 64).as_bytes()), None);
        assert_eq!(
            array_of_ids(deep(r#"{"k":"#, "}", 63).as_bytes()).unwrap(),
            ["a"]
        );
        assert_eq!(array_of_ids(deep(r#"{"k":"#, "}", 64).as_bytes()), None);
        assert_eq!(array_of_ids(b"[{\"id\":\"a\",\"n\":\"\xff\"}]"), None);
    }

    #[test]
    fn agrees_with_serde_on_mutated_pages() {
        // Deterministic fuzz: whenever the scanner answers, serde answers the same; the
        // scanner never accepts a page serde refuses (and never panics).
        let mut state = 0x9e37_79b9_u32;
        let mut answered = 0;
        for base in [PAGE.as_bytes().to_vec(), member_page(2)] {
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
        }
        assert!(
            answered > 100,
            "the mutations left too few valid pages: {answered}"
        );
    }
    /// A member page as the simulator serves it: `users` whole user objects (~1.3 KB each).
    fn member_page(users: usize) -> Vec<u8> {
        const USER: &str = r#"{"_links":{"self":{"href":"https://contoso.okta.com/api/v1/users/{ID}"}},"activated":"2023-03-20T02:26:07.373Z","created":"2023-03-17T19:41:41.116Z","credentials":{"emails":[{"status":"VERIFIED","type":"PRIMARY","value":"kathleen.robinson@contoso.com"}],"provider":{"name":"OKTA","type":"OKTA"}},"id":"{ID}","lastLogin":null,"lastUpdated":"2024-07-01T21:31:44.313Z","passwordChanged":null,"profile":{"city":"Bengaluru","costCenter":"CC-1185","costCenterCode":"LE341","countryCode":"IN","department":"Legal","displayName":"Kathleen Robinson","division":"G&A","email":"kathleen.robinson@contoso.com","employeeNumber":"109733","entitlements":["legal-5"],"firstName":"Kathleen","floors":[36],"fte":0.8,"hireDate":"2024-04-02","isContractor":false,"lastName":"Robinson","locale":"en_IN","login":"kathleen.robinson@contoso.com","manager":"Jessica Reed","managerId":"00uLODv7CHe1hnXST0g7","mobilePhone":"+91 80 383-2050","organization":"Contoso Ltd","preferredLanguage":"en","scores":[],"secondEmail":null,"seniority":7,"state":"Karnataka","timezone":"Asia/Kolkata","title":"Paralegal","userType":"Employee"},"realmId":"guoLRwuTr3E4csAlD0g7","status":"PROVISIONED","statusChanged":"2023-03-20T02:26:07.373Z","type":{"id":"otyUUnQWQvpHJ6BcX0g7"}}"#;
        let mut page = b"[".to_vec();
        for n in 0..users {
            if n > 0 {
                page.push(b',');
            }
            page.extend_from_slice(USER.replace("{ID}", &format!("00u{n:017}")).as_bytes());
        }
        page.push(b']');
        page
    }

    /// Not a check but a workload for `valgrind --tool=callgrind` (instruction counts are
    /// repeatable where timings are not): scans a 1,000-member page 20 times.
    #[test]
    #[ignore = "a benchmark workload, run by hand"]
    fn scan_member_pages() {
        let page = member_page(1000);
        assert_eq!(serde_ids(&page).unwrap().len(), 1000);
        for _ in 0..20 {
            let ids = array_of_ids(std::hint::black_box(&page)).unwrap();
            assert_eq!(ids.len(), 1000);
            assert_eq!(ids[999], "00u00000000000000999");
        }
    }
}
