//! Fuzzes the native YAML revision parser: any bytes give a revision or a
//! typed error naming the file, never a panic, a hang or a stack overflow.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The fast reader of rendered files agrees with serde_yaml wherever it
    // answers.
    assert!(mergepoint::script::fast_path_agrees(text));
    let path = Path::new("revisions/fuzz.yaml");
    match mergepoint::script::parse_native(path, text) {
        Ok((rev, body)) => {
            // What parses renders back to the same revision.
            let again = mergepoint::script::render_native(&rev, &body);
            let (rev2, body2) =
                mergepoint::script::parse_native(path, &again).expect("a rendered revision parses");
            assert_eq!((rev, body), (rev2, body2));
        }
        Err(e) => assert_eq!(e.path(), path),
    }
    let _ = mergepoint::config::Config::parse(Path::new("mergepoint.yaml"), text);
});
