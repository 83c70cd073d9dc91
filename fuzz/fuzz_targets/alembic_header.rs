//! Fuzzes the static reader of Alembic `.py` revision headers: any text
//! gives a revision or a typed error naming the file, never a panic, a hang
//! or a stack overflow.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("versions/fuzz.py");
    if let Err(e) = mergepoint::script::parse_alembic(path, text) {
        assert_eq!(e.path(), path);
    }
});
