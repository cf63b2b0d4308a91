//! A secret typed or pasted on a terminal: one line, unless it starts a PEM block
//! (`-----BEGIN …`, read up to its `-----END …` line) or a JSON object (a JWK, read until its
//! braces balance outside strings). Piped input is read whole and needs none of this.

use std::io::BufRead;

/// The whole value whose first line is `first` (line end included or not), reading further
/// lines from `more` when `first` opens a PEM block or a JSON object. The result keeps the
/// lines' breaks but not the last one.
///
/// # Errors
/// Reading `more` failed.
pub fn complete_value(first: String, more: &mut impl BufRead) -> std::io::Result<String> {
    let mut text = first;
    let start = text.trim_start();
    let pem = start.starts_with("-----BEGIN");
    let json = start.starts_with('{');
    if !pem && !json {
        return Ok(trim_end(text));
    }
    loop {
        let done = if pem {
            text.lines()
                .skip(1)
                .any(|l| l.trim_start().starts_with("-----END"))
        } else {
            json_closed(&text)
        };
        if done {
            return Ok(trim_end(text));
        }
        if more.read_line(&mut text)? == 0 {
            return Ok(trim_end(text));
        }
    }
}

/// Whether the braces of the JSON text balance (outside strings).
fn json_closed(text: &str) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0i64, false, false);
    for c in text.chars() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (false, _, '"') => in_string = true,
            (false, _, '{') => depth += 1,
            (false, _, '}') => depth -= 1,
            _ => {}
        }
    }
    depth <= 0 && text.contains('}')
}

fn trim_end(text: String) -> String {
    super::trim_line_end(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &str) -> String {
        let mut lines = std::io::Cursor::new(input.as_bytes());
        let mut first = String::new();
        lines.read_line(&mut first).unwrap();
        complete_value(first, &mut lines).unwrap()
    }

    #[test]
    fn one_line_values_stop_at_the_line_end() {
        assert_eq!(read("00abc-token\nnext command\n"), "00abc-token");
    }

    #[test]
    fn a_pem_is_read_to_its_end_line() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMIGH\nAgEA\n-----END PRIVATE KEY-----";
        assert_eq!(read(&format!("{pem}\nafter\n")), pem);
        // Cut short (end of input): what arrived is kept for the key parser to judge.
        assert_eq!(
            read("-----BEGIN PRIVATE KEY-----\nMIGH\n"),
            "-----BEGIN PRIVATE KEY-----\nMIGH"
        );
    }

    #[test]
    fn a_jwk_is_read_until_its_braces_close() {
        let jwk = "{\n  \"kty\": \"EC\",\n  \"d\": \"a}b{\",\n  \"x\": \"x\"\n}";
        assert_eq!(read(&format!("{jwk}\nafter\n")), jwk);
        assert_eq!(read("{\"kty\":\"EC\"}\nafter\n"), "{\"kty\":\"EC\"}");
    }
}
