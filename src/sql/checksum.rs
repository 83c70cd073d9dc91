//! The checksum of a revision's SQL, as the audit table stores it
//! (`sql_sha256`) and `check --database` compares it.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `sql`'s UTF-8 bytes.
pub fn sha256_hex(sql: &str) -> String {
    use std::fmt::Write;
    let mut hex = String::with_capacity(64);
    for b in Sha256::digest(sql.as_bytes()) {
        // Writing into a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_sha256_in_hex() {
        assert_eq!(
            super::sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            super::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
