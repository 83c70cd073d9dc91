//! PostgreSQL durations as mergepoint accepts them for `lock_timeout` and
//! `statement_timeout`: a number with an optional unit (`500ms`, `5s`,
//! `2min`, `1h`, `1d`; no unit: milliseconds, as PostgreSQL reads it).

/// Ok if `value` is a duration PostgreSQL's `SET lock_timeout = '…'`
/// accepts and mergepoint can pass on safely; Err says what is wrong.
pub fn check_duration(value: &str) -> Result<(), String> {
    let v = value.trim();
    let digits = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(digits);
    let unit = unit.trim();
    let number_ok = !number.is_empty()
        && number
            .parse::<f64>()
            .is_ok_and(|n| n.is_finite() && n >= 0.0);
    let unit_ok = matches!(unit, "" | "us" | "ms" | "s" | "min" | "h" | "d");
    if number_ok && unit_ok {
        Ok(())
    } else {
        Err("is not a duration: write a number with an optional unit (500ms, 5s, 2min, 1h; no unit means milliseconds; 0 turns it off)".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for ok in [
            "0", "500", "500ms", "5s", "1.5s", " 2min", "1h", "1d", "10 s",
        ] {
            assert!(check_duration(ok).is_ok(), "{ok}");
        }
        for bad in ["", "s", "5 sec", "-1s", "5s; drop table x", "1e3", "five"] {
            assert!(check_duration(bad).is_err(), "{bad}");
        }
    }
}
