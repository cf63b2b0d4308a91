//! The crate's modules depend one way only: each top-level module of `src/` may import only
//! modules of a lower rank in [`RANKS`], so there is no import circle. Run
//! `cargo test -p okta-connector layering` to check; a failure names the circle or the import
//! that points up (file and line).
//!
//! Imports are read from the source: every `crate::<module>` path, every `super::` path that
//! climbs to the crate root (inline `mod` blocks counted), and `use crate::{a, b}` groups;
//! comments and string literals are skipped. Test code counts like any other code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every top-level module, its rank, and what it is. A module may import only modules of a
/// strictly lower rank; `crate` is `lib.rs`.
const RANKS: &[(&str, u8, &str)] = &[
    (
        "okta",
        0,
        "Okta facts: object and IGA types, page limits, rate-limit buckets",
    ),
    ("clock", 0, "the monotonic clock and sleeper"),
    ("watermark", 0, "the watermark format"),
    ("telemetry", 0, "log records and run counters"),
    (
        "config",
        1,
        "ConfigJson, AuthJson and the IGA section, validated",
    ),
    ("auth", 2, "the credential seam and the SSWS API token"),
    ("client", 3, "HTTP, pacing, retries, paging, error mapping"),
    (
        "endpoints",
        4,
        "the core Okta endpoints: wire types and URLs",
    ),
    ("mapping", 5, "core Okta JSON → objects"),
    ("plan", 6, "what a full or delta run fetches"),
    (
        "iga",
        6,
        "the IGA part of a run: URLs, mapping, reading, check",
    ),
    (
        "syslog",
        6,
        "a System Log delta: reading the log, what its events change",
    ),
    (
        "access",
        6,
        "apps, assignments, admin roles, factors and group rules: reading and completion",
    ),
    ("run", 7, "executes a plan"),
    ("export", 7, "write-back: exported changes → Okta writes"),
    ("crate", 8, "the connector, its factory and descriptor"),
];

/// One import of a top-level module by another.
#[derive(Debug, Clone)]
struct Import {
    from: String,
    to: String,
    at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String, usize),
    PathSep,
    Open,
    Close,
    Comma,
    Other,
}

/// Identifiers and the punctuation that matters for paths, without comments and literals.
fn tokens(src: &str) -> Vec<Token> {
    let b = src.as_bytes();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(b[i] == b'\n');
                    i += 1;
                }
            }
        } else if let Some(end) = raw_string_end(b, i) {
            line += b[i..end].iter().filter(|&&c| c == b'\n').count();
            i = end;
        } else if c == b'"' || (c == b'b' && b.get(i + 1) == Some(&b'"')) {
            i += if c == b'b' { 2 } else { 1 };
            while i < b.len() && b[i] != b'"' {
                line += usize::from(b[i] == b'\n');
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == b'\'' {
            // A char literal ('x', '\n', '{') or a lifetime ('a).
            if b.get(i + 1) == Some(&b'\\') {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            } else {
                let next = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                i += if b.get(i + 1 + next) == Some(&b'\'') {
                    next + 2
                } else {
                    1
                };
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Token::Ident(src[start..i].to_owned(), line));
        } else {
            out.push(match c {
                b':' if b.get(i + 1) == Some(&b':') => {
                    i += 1;
                    Token::PathSep
                }
                b'{' => Token::Open,
                b'}' => Token::Close,
                b',' => Token::Comma,
                _ => Token::Other,
            });
            i += 1;
        }
    }
    out
}

/// The end of a raw string literal starting at `i` (`r"…"`, `r#"…"#`, `br#"…"#`), if one does.
fn raw_string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + usize::from(b[i] == b'b');
    if b.get(j) != Some(&b'r') || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
    {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&c| c == b'#').count();
    j += hashes;
    if b.get(j) != Some(&b'"') {
        return None;
    }
    let close: Vec<u8> = std::iter::once(b'"')
        .chain(std::iter::repeat_n(b'#', hashes))
        .collect();
    let body = j + 1;
    (body..b.len())
        .find(|&k| b[k..].starts_with(&close))
        .map(|k| k + close.len())
}

/// The top-level modules named by a crate-root path starting at `tokens[k]` (one name, or
/// every element of a `{…}` group).
fn roots(tokens: &[Token], k: usize) -> Vec<(String, usize)> {
    match tokens.get(k) {
        Some(Token::Ident(name, line)) => vec![(name.clone(), *line)],
        Some(Token::Open) => {
            let (mut depth, mut expect, mut out) = (0, true, Vec::new());
            for t in &tokens[k..] {
                match t {
                    Token::Open => depth += 1,
                    Token::Close if depth == 1 => break,
                    Token::Close => depth -= 1,
                    Token::Comma if depth == 1 => expect = true,
                    Token::Ident(name, line) if depth == 1 && expect => {
                        out.push((name.clone(), *line));
                        expect = false;
                    }
                    _ => {}
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// The imports of top-level modules in one file, whose module path is `module`.
fn imports_of(file: &Path, rel: &str, module: &[String], known: &BTreeSet<&str>) -> Vec<Import> {
    let src = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let toks = tokens(&src);
    let unit = module.first().map_or("crate", String::as_str).to_owned();
    let (mut inline, mut depth, mut pending) = (Vec::<usize>::new(), 0usize, false);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Token::Ident(kw, _) if kw == "mod" => pending = true,
            Token::Open => {
                depth += 1;
                if pending {
                    inline.push(depth);
                }
                pending = false;
            }
            Token::Close => {
                if inline.last() == Some(&depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Other | Token::Comma => pending = false,
            Token::Ident(kw, _) if kw == "crate" && toks.get(i + 1) == Some(&Token::PathSep) => {
                for (to, line) in roots(&toks, i + 2) {
                    out.push((to, line));
                }
            }
            Token::Ident(kw, _) if kw == "super" => {
                let mut ups = 0;
                let mut j = i;
                while matches!(&toks.get(j), Some(Token::Ident(s, _)) if s == "super")
                    && toks.get(j + 1) == Some(&Token::PathSep)
                {
                    ups += 1;
                    j += 2;
                }
                if ups >= module.len() + inline.len() {
                    out.extend(roots(&toks, j));
                }
                i = j.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.into_iter()
        .filter(|(to, _)| known.contains(to.as_str()) && *to != unit)
        .map(|(to, line)| Import {
            from: unit.clone(),
            to,
            at: format!("{rel}:{line}"),
        })
        .collect()
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src/` (`client/mod.rs` → `client`, `lib.rs` → none).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// Every import between top-level modules of `src`, and the top-level modules found.
fn graph(src: &Path) -> (Vec<Import>, BTreeSet<String>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let known: BTreeSet<&str> = RANKS.iter().map(|(m, _, _)| *m).collect();
    let mut found = BTreeSet::new();
    let mut imports = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let module = module_path(rel);
        found.insert(
            module
                .first()
                .cloned()
                .unwrap_or_else(|| "crate".to_owned()),
        );
        let shown = format!("src/{}", rel.display());
        imports.extend(imports_of(&file, &shown, &module, &known));
    }
    (imports, found)
}

/// A circle of modules, if the imports have one (as `a → b → … → a`).
fn cycle(imports: &[Import]) -> Option<Vec<String>> {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for i in imports {
        edges.entry(&i.from).or_default().insert(&i.to);
    }
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut circle: Vec<String> = path[at..].iter().map(|s| (*s).to_owned()).collect();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, &edges, &mut Vec::new(), &mut done))
}

/// What is wrong with `imports` given `found` modules: circles first, then imports that do not
/// point to a lower rank, then modules missing from the table (or in it but gone).
fn problems(imports: &[Import], found: &BTreeSet<String>) -> Vec<String> {
    let rank: BTreeMap<&str, u8> = RANKS.iter().map(|(m, r, _)| (*m, *r)).collect();
    let mut out = Vec::new();
    if let Some(circle) = cycle(imports) {
        let evidence: Vec<String> = circle
            .windows(2)
            .filter_map(|w| imports.iter().find(|i| i.from == w[0] && i.to == w[1]))
            .map(|i| format!("{} imports {} at {}", i.from, i.to, i.at))
            .collect();
        out.push(format!(
            "module circle: {} ({})",
            circle.join(" → "),
            evidence.join("; ")
        ));
    }
    for i in imports {
        let (from, to) = (rank[i.from.as_str()], rank[i.to.as_str()]);
        if to >= from {
            let dir = if to == from { "sideways" } else { "upward" };
            out.push(format!(
                "{dir} import: {} (rank {from}) imports {} (rank {to}) at {}; move the item down or the import up",
                i.from, i.to, i.at
            ));
        }
    }
    for m in found.iter().filter(|m| !rank.contains_key(m.as_str())) {
        out.push(format!(
            "module {m} is not in the rank table of tests/it/layering.rs; give it a rank"
        ));
    }
    for (m, _, _) in RANKS.iter().filter(|(m, _, _)| !found.contains(*m)) {
        out.push(format!(
            "the rank table names {m}, which src/ does not have"
        ));
    }
    out
}

#[test]
fn layering_is_one_way_without_module_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (imports, found) = graph(&src);
    assert!(
        imports
            .iter()
            .any(|i| i.from == "crate" && i.to == "client"),
        "the scanner sees the crate root's imports: {imports:?}"
    );
    let problems = problems(&imports, &found);
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn layering_check_names_circles_and_upward_imports() {
    let import = |from: &str, to: &str| Import {
        from: from.to_owned(),
        to: to.to_owned(),
        at: format!("src/{from}.rs:1"),
    };
    let found: BTreeSet<String> = RANKS.iter().map(|(m, _, _)| (*m).to_owned()).collect();
    let bad = [import("config", "iga"), import("iga", "config")];
    let p = problems(&bad, &found);
    assert!(
        p[0].starts_with("module circle: config → iga → config"),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.contains("upward import: config (rank 1) imports iga (rank 6)")),
        "{p:?}"
    );
    assert!(problems(&[import("iga", "config")], &found).is_empty());
}

#[test]
fn layering_scanner_skips_comments_and_strings_and_resolves_super() {
    let toks = tokens(
        "// crate::iga\n/* crate::run */ let s = \"crate::plan\"; let c = '{'; let r = r#\"crate::x\"#; crate::okta::X",
    );
    let idents: Vec<&str> = toks
        .iter()
        .filter_map(|t| match t {
            Token::Ident(s, _) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        idents,
        ["let", "s", "let", "c", "let", "r", "crate", "okta", "X"]
    );
    let dir = std::env::temp_dir().join(format!("layering-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mod.rs");
    std::fs::write(
        &file,
        "use super::{okta, clock::Clock};\nmod tests { use super::*; use super::super::run; }\n",
    )
    .unwrap();
    let known: BTreeSet<&str> = RANKS.iter().map(|(m, _, _)| *m).collect();
    let found = imports_of(&file, "src/config/mod.rs", &["config".to_owned()], &known);
    let _ = std::fs::remove_dir_all(&dir);
    let names: Vec<(&str, &str)> = found
        .iter()
        .map(|i| (i.to.as_str(), i.at.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("okta", "src/config/mod.rs:1"),
            ("clock", "src/config/mod.rs:1"),
            ("run", "src/config/mod.rs:2")
        ]
    );
}
