//! A C host compiled against `include/connector_abi.h`: proves the header matches the library.

use std::path::Path;
use std::process::Command;

use crate::plugins::example_library;

#[test]
fn c_host_compiled_against_the_header_runs_an_import() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = tempfile::tempdir().unwrap();
    let binary = out_dir.path().join("c_host");
    let compiled = match Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&binary)
        .arg("-I")
        .arg(manifest.join("include"))
        .arg(manifest.join("tests/c/c_host.c"))
        .arg("-ldl")
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "SKIPPED c_host_compiled_against_the_header_runs_an_import: no C compiler (cc)"
            );
            return;
        }
        Err(e) => panic!("running cc: {e}"),
    };
    assert!(
        compiled.status.success(),
        "the C host did not compile against the header:\n{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let output = Command::new(&binary)
        .arg(example_library("stream_connector"))
        .arg(r#"{"count": 20000, "batch_size": 1000, "log_every": 5000}"#)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the C host failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // 20,000 items and one scope-complete marker; start, 4 progress and finish log records.
    assert!(
        stdout.contains("c host: 20001 changes in 21 batches, 6 log records"),
        "{stdout}"
    );
    assert!(stdout.contains(r#""watermark":"count:20000""#), "{stdout}");
}
