//! A non-Rust host: Python's `ctypes` loads the directory connector and runs an import.

use std::path::Path;
use std::process::Command;

use connector_api::abi::ABI_VERSION;

use crate::plugins::example_library;

#[test]
fn python_ctypes_host_runs_an_import() {
    let library = example_library("directory_connector");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/ctypes_host.py");
    let output = match Command::new("python3")
        .arg(&script)
        .arg(&library)
        .arg(ABI_VERSION.to_string())
        .arg("5000")
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("SKIPPED python_ctypes_host_runs_an_import: python3 is not installed");
            return;
        }
        Err(e) => panic!("running python3: {e}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the Python host failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("ctypes host: OK"), "{stdout}");
    assert!(stdout.contains("imported 10002 objects"), "{stdout}");
    assert!(
        stdout.contains("export outcomes [['applied', 'failed'], ['applied', 'failed'], ['unchanged', 'failed']]"),
        "{stdout}"
    );
}
