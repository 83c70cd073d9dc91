//! Alembic's `file_template`: Python %-formatting of a new revision file's
//! name from `rev`, `slug` and the creation date.

/// The values a template may name.
struct Values<'a> {
    rev: &'a str,
    slug: &'a str,
    created: &'a chrono::DateTime<chrono::Utc>,
}

impl Values<'_> {
    /// A number key's value (`epoch`, `year`, ... `second`).
    fn int(&self, key: &str) -> Option<i64> {
        use chrono::{Datelike, Timelike};
        let c = self.created;
        Some(match key {
            "epoch" => c.timestamp(),
            "year" => c.year() as i64,
            "month" => c.month() as i64,
            "day" => c.day() as i64,
            "hour" => c.hour() as i64,
            "minute" => c.minute() as i64,
            "second" => c.second() as i64,
            _ => return None,
        })
    }
}

/// One `%(key)<flags><width>.<precision><conversion>` of a template.
struct Spec<'t> {
    key: &'t str,
    flags: &'t str,
    width: usize,
    precision: Option<usize>,
    conversion: char,
}

/// Alembic's `file_template % {...}`: Python %-formatting of `rev`, `slug`,
/// `epoch`, `year`, `month`, `day`, `hour`, `minute` and `second`.
pub(crate) fn file_name(
    template: &str,
    rev: &str,
    slug: &str,
    created: &chrono::DateTime<chrono::Utc>,
) -> Result<String, String> {
    let values = Values { rev, slug, created };
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('%') {
            out.push('%');
            rest = r;
            continue;
        }
        let (spec, after) = parse_spec(rest)?;
        rest = after;
        let (body, numeric) = convert(&spec, &values)?;
        pad(&mut out, &body, &spec, numeric);
    }
    out.push_str(rest);
    Ok(out)
}

/// Reads the spec after a `%`; returns it and the text after it.
fn parse_spec(after_percent: &str) -> Result<(Spec<'_>, &str), String> {
    let Some(r) = after_percent.strip_prefix('(') else {
        return Err("every % must be %(name)<format> or %%".to_string());
    };
    let close = r.find(')').ok_or("unclosed %(")?;
    let key = &r[..close];
    let spec = &r[close + 1..];
    let flags_len = spec
        .find(|c: char| !"#0- +".contains(c))
        .unwrap_or(spec.len());
    let flags = &spec[..flags_len];
    let after_flags = &spec[flags_len..];
    let width_len = after_flags
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after_flags.len());
    let width: usize = after_flags[..width_len].parse().unwrap_or(0);
    let mut after_width = &after_flags[width_len..];
    let mut precision = None;
    if let Some(p) = after_width.strip_prefix('.') {
        let n = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
        precision = Some(p[..n].parse::<usize>().unwrap_or(0));
        after_width = &p[n..];
    }
    let conversion = after_width
        .chars()
        .next()
        .ok_or("a %(name) has no conversion (s or d)")?;
    let spec = Spec {
        key,
        flags,
        width,
        precision,
        conversion,
    };
    Ok((spec, &after_width[conversion.len_utf8()..]))
}

/// The converted value, before padding, and whether it is a number.
fn convert(spec: &Spec<'_>, values: &Values<'_>) -> Result<(String, bool), String> {
    match spec.conversion {
        's' | 'r' | 'a' => {
            let v = match spec.key {
                "rev" => values.rev.to_string(),
                "slug" => values.slug.to_string(),
                k => values
                    .int(k)
                    .ok_or_else(|| format!("unknown key '{k}'"))?
                    .to_string(),
            };
            let v = match spec.precision {
                Some(p) => v.chars().take(p).collect(),
                None => v,
            };
            Ok((v, false))
        }
        'd' | 'i' | 'u' => {
            let key = spec.key;
            let n = values.int(key).ok_or_else(|| {
                format!(
                    "'{key}' is not a number key (epoch, year, month, day, hour, minute, second)"
                )
            })?;
            let mut digits = n.unsigned_abs().to_string();
            if let Some(p) = spec.precision {
                while digits.len() < p {
                    digits.insert(0, '0');
                }
            }
            let sign = if n < 0 {
                "-"
            } else if spec.flags.contains('+') {
                "+"
            } else if spec.flags.contains(' ') {
                " "
            } else {
                ""
            };
            Ok((format!("{sign}{digits}"), true))
        }
        other => Err(format!("unsupported conversion '%{other}'")),
    }
}

/// Appends `body` padded to the spec's width: left-aligned with `-`,
/// zero-filled after the sign for numbers with `0`, else right-aligned.
fn pad(out: &mut String, body: &str, spec: &Spec<'_>, numeric: bool) {
    let len = body.chars().count();
    let width = spec.width;
    if len >= width {
        out.push_str(body);
    } else if spec.flags.contains('-') {
        out.push_str(body);
        out.push_str(&" ".repeat(width - len));
    } else if numeric && spec.flags.contains('0') {
        let (sign, digits) =
            body.split_at(body.len() - body.trim_start_matches(['-', '+', ' ']).len());
        out.push_str(sign);
        out.push_str(&"0".repeat(width - len));
        out.push_str(digits);
    } else {
        out.push_str(&" ".repeat(width - len));
        out.push_str(body);
    }
}
