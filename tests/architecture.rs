//! The shape docs/architecture.md promises: no two modules of src/ import
//! each other (scripts/cycles lists any cycle).

use std::process::Command;

#[test]
fn no_import_cycles_between_modules() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg(format!("{root}/scripts/cycles"))
        .output()
        .expect("python3 runs scripts/cycles (install Python 3)");
    assert!(
        out.status.success(),
        "import cycles between modules (see docs/architecture.md):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
