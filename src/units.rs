//! Human units: durations (`1h30m`), sizes (`50MiB`), rates (`50/1s`) and percentages (`1%`).
//!
//! Used by the scenario parser (what users write) and by reports (what users read), so that a
//! value printed by [`format_size`] and friends can be pasted back into a scenario.
//! Parsing is strict (no spaces inside a value, no signs, no exponents) so a typo is an error
//! that shows the accepted forms instead of a surprising value.

use std::time::Duration;

use thiserror::Error;

/// Forms shown when a duration does not parse.
pub const DURATION_FORMS: &str = "500ms, 30s, 5m, 1h30m";
/// Forms shown when a size does not parse.
pub const SIZE_FORMS: &str =
    "64B, 4KiB, 50MiB, 1GB (KB/MB/GB/TB/PB/EB = 1000^n, KiB/MiB/GiB/TiB/PiB/EiB = 1024^n)";
/// Forms shown when a rate does not parse.
pub const RATE_FORMS: &str = "200 (per second), 50/1s, 600/1m, 10/500ms";
/// Forms shown when a percentage does not parse.
pub const PERCENT_FORMS: &str = "1%, 0.5%, 100%";

/// A value that is not in one of the accepted forms; the message names the text and the forms.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum UnitError {
    #[error("`{text}` is not a {kind}{hint}; use forms like {forms}")]
    Invalid {
        text: String,
        kind: &'static str,
        /// Extra explanation such as " (negative values are not allowed)"; may be empty.
        hint: &'static str,
        forms: &'static str,
    },
    #[error("`{text}` is out of range for a {kind}; allowed: {allowed}")]
    OutOfRange {
        text: String,
        kind: &'static str,
        allowed: &'static str,
    },
}

fn invalid(text: &str, kind: &'static str, forms: &'static str) -> UnitError {
    let hint = if text.trim_start().starts_with('-') {
        " (negative values are not allowed)"
    } else if text.trim().contains(char::is_whitespace) {
        " (no spaces inside a value)"
    } else {
        ""
    };
    UnitError::Invalid {
        text: text.to_string(),
        kind,
        hint,
        forms,
    }
}

/// Splits a leading unsigned decimal number (`12`, `1.5`) from the rest of `s`.
/// Returns None when `s` does not start with a digit or has a dangling `.`.
fn split_number(s: &str) -> Option<(&str, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, rest) = s.split_at(end);
    let mut parts = num.split('.');
    let int = parts.next()?;
    let frac = parts.next();
    let well_formed =
        !int.is_empty() && parts.next().is_none() && frac.is_none_or(|f| !f.is_empty());
    well_formed.then_some((num, rest))
}

/// `num * unit` in integer arithmetic, truncating below one base unit; None on overflow.
fn scaled(num: &str, unit: u128) -> Option<u128> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let int: u128 = int.parse().ok()?;
    let mut total = int.checked_mul(unit)?;
    // Digits past 30 cannot change the result for any unit we use; ignore them to avoid overflow.
    let frac = &frac[..frac.len().min(30)];
    if !frac.is_empty() {
        let digits: u128 = frac.parse().ok()?;
        let denom = 10u128.checked_pow(frac.len() as u32)?;
        total = total.checked_add(digits.checked_mul(unit)? / denom)?;
    }
    Some(total)
}

/// Parses `500ms`, `30s`, `5m`, `1h30m`, `2h`, `1.5s`: one or more number+unit pairs with units
/// h, m, s, ms in descending order.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let bad = || invalid(s, "duration", DURATION_FORMS);
    // Rank orders the units so `30m1h` and `5s5s` are refused.
    const UNITS: [(&str, u128, u8); 4] = [
        ("ms", 1_000_000, 0),
        ("h", 3_600_000_000_000, 3),
        ("m", 60_000_000_000, 2),
        ("s", 1_000_000_000, 1),
    ];
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut nanos: u128 = 0;
    let mut last_rank = u8::MAX;
    while !rest.is_empty() {
        let (num, after) = split_number(rest).ok_or_else(bad)?;
        let (unit, size, rank) = UNITS
            .iter()
            .find(|(u, _, _)| after.starts_with(u))
            .copied()
            .ok_or_else(bad)?;
        if rank >= last_rank {
            return Err(bad());
        }
        last_rank = rank;
        nanos = scaled(num, size)
            .and_then(|n| nanos.checked_add(n))
            .ok_or_else(bad)?;
        rest = &after[unit.len()..];
    }
    // Cap at ~31 years: anything longer is a typo, and it keeps arithmetic on durations safe.
    const MAX_SECS: u128 = 1_000_000_000;
    if nanos / 1_000_000_000 > MAX_SECS {
        return Err(UnitError::OutOfRange {
            text: s.to_string(),
            kind: "duration",
            allowed: "at most 1000000000s",
        });
    }
    let secs = (nanos / 1_000_000_000) as u64;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// Parses `64B`, `4KiB`, `50MiB`, `1GB` (= 10^9), `1.5KiB`; a plain integer is bytes.
/// Unit letters are case-insensitive (`4kib`); fractions round to the nearest byte.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let bad = || invalid(s, "size", SIZE_FORMS);
    let t = s.trim();
    let (num, unit) = split_number(t).ok_or_else(bad)?;
    let mult: u128 = match unit.to_ascii_lowercase().as_str() {
        // A bare number is bytes, but only a whole one: `1.5` is probably a missing unit.
        "" if !num.contains('.') => 1,
        "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "pb" => 1_000_000_000_000_000,
        "eb" => 1_000_000_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        "pib" => 1 << 50,
        "eib" => 1 << 60,
        _ => return Err(bad()),
    };
    // Scale by 2 to round half up: (2x + 1) / 2.
    let doubled = scaled(num, mult * 2).ok_or_else(bad)?;
    let bytes = doubled.div_ceil(2);
    // `16EiB` is what format_size prints for the largest sizes (u64::MAX is 16EiB less one
    // byte), so the limit itself parses, as the largest size there is.
    if bytes == 1 << 64 {
        return Ok(u64::MAX);
    }
    u64::try_from(bytes).map_err(|_| UnitError::OutOfRange {
        text: s.to_string(),
        kind: "size",
        allowed: "at most 16EiB",
    })
}

fn parse_plain_number(s: &str) -> Option<f64> {
    match split_number(s) {
        Some((num, "")) => num.parse().ok(),
        _ => None,
    }
}

/// Parses a rate in requests per second: `200`, `12.5`, `50/1s`, `600/1m`, `10/500ms`, `50/s`.
pub fn parse_rate(s: &str) -> Result<f64, UnitError> {
    let bad = || invalid(s, "rate", RATE_FORMS);
    let t = s.trim();
    let (count, per) = match t.split_once('/') {
        Some((c, p)) => (c, Some(p)),
        None => (t, None),
    };
    let count = parse_plain_number(count).ok_or_else(bad)?;
    let per_secs = match per {
        None => 1.0,
        Some(p) => {
            // `50/s` means `50/1s`.
            let p = if p.starts_with(|c: char| c.is_ascii_digit()) {
                p.to_string()
            } else {
                format!("1{p}")
            };
            parse_duration(&p).map_err(|_| bad())?.as_secs_f64()
        }
    };
    if per_secs <= 0.0 {
        return Err(UnitError::OutOfRange {
            text: s.to_string(),
            kind: "rate",
            allowed: "a period longer than 0s, e.g. 50/1s",
        });
    }
    let rate = count / per_secs;
    if !rate.is_finite() {
        return Err(bad());
    }
    Ok(rate)
}

/// Parses `1%` -> 0.01, `0.5%` -> 0.005; 0% to 100%.
pub fn parse_percent(s: &str) -> Result<f64, UnitError> {
    let t = s.trim();
    let num = t
        .strip_suffix('%')
        .and_then(parse_plain_number)
        .ok_or_else(|| invalid(s, "percentage", PERCENT_FORMS))?;
    if num > 100.0 {
        return Err(UnitError::OutOfRange {
            text: s.to_string(),
            kind: "percentage",
            allowed: "0% to 100%",
        });
    }
    Ok(num / 100.0)
}

/// Formats with 3 significant digits at most, without trailing zeros: 1.5, 12.3, 512.
pub fn short_number(v: f64) -> String {
    let decimals = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".to_string()
    } else {
        s
    }
}

/// Formats bytes with binary units: 1536.0 -> `1.5KiB`, 512.0 -> `512B`, -2048.0 -> `-2KiB`.
/// Fractional bytes are kept below 1KiB (`12.3B`), useful for bytes per request.
pub fn format_size(bytes: f64) -> String {
    if !bytes.is_finite() {
        return format!("{bytes}B");
    }
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let sign = if bytes < 0.0 { "-" } else { "" };
    let mut v = bytes.abs();
    let mut unit = 0;
    while unit + 1 < UNITS.len() && v >= 1024.0 {
        v /= 1024.0;
        unit += 1;
    }
    let mut text = short_number(v);
    // Rounding can reach 1024 (1023.9 -> "1024"): show the next unit instead.
    if text == "1024" && unit + 1 < UNITS.len() {
        unit += 1;
        text = "1".to_string();
    }
    if text == "0" {
        return "0B".to_string();
    }
    format!("{sign}{text}{}", UNITS[unit])
}

/// Formats a duration: `500ms`, `1.5s`, `1m30s`, `2h`, `0.25ms`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", short_number(nanos as f64 / 1e6));
    }
    if nanos < 60_000_000_000 {
        // Up to millisecond precision: 12.345s.
        let s = format!("{:.3}", nanos as f64 / 1e9);
        return format!("{}s", s.trim_end_matches('0').trim_end_matches('.'));
    }
    let total = ((nanos + 500_000_000) / 1_000_000_000) as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Formats a count with thousands separators: 157500 -> `157,500` (rounded, >= 0).
pub fn format_count(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats a rate per second: `400/s`, `12.5/s`.
pub fn format_rate(r: f64) -> String {
    format!("{}/s", short_number(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_in_every_form() {
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("30s"), Ok(ms(30_000)));
        assert_eq!(parse_duration("5m"), Ok(ms(300_000)));
        assert_eq!(parse_duration("2h"), Ok(ms(7_200_000)));
        assert_eq!(parse_duration("1h30m"), Ok(ms(5_400_000)));
        assert_eq!(parse_duration("1m30s500ms"), Ok(ms(90_500)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("0.1s"), Ok(ms(100)));
        assert_eq!(parse_duration(" 0s "), Ok(Duration::ZERO));
    }

    #[test]
    fn duration_rejections_name_the_text_and_forms() {
        for bad in [
            "5 minutes",
            "-1s",
            "",
            "5",
            "5x",
            "s",
            "1.s",
            "30m1h",
            "5s5s",
            "1e3s",
            "+1s",
        ] {
            let err = parse_duration(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
            assert!(err.contains("500ms, 30s, 5m, 1h30m"), "{err}");
        }
        let neg = parse_duration("-1s").unwrap_err().to_string();
        assert!(neg.contains("negative"), "{neg}");
        let spaced = parse_duration("5 minutes").unwrap_err().to_string();
        assert_eq!(
            spaced,
            "`5 minutes` is not a duration (no spaces inside a value); use forms like 500ms, 30s, 5m, 1h30m"
        );
        assert!(matches!(
            parse_duration("99999999999h"),
            Err(UnitError::OutOfRange { .. })
        ));
        assert!(parse_duration("340282366920938463463374607431768211456h").is_err());
    }

    #[test]
    fn sizes_decimal_binary_and_plain() {
        assert_eq!(parse_size("64B"), Ok(64));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("50MiB"), Ok(50 * 1024 * 1024));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2KB"), Ok(2000));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("4kib"), Ok(4096));
        assert_eq!(parse_size("0.5B"), Ok(1), "rounds half up");
        assert_eq!(parse_size("1PiB"), Ok(1 << 50));
        assert_eq!(parse_size("2EiB"), Ok(2 << 60));
        assert_eq!(parse_size("3PB"), Ok(3_000_000_000_000_000));
        assert_eq!(parse_size("1eb"), Ok(1_000_000_000_000_000_000));
        assert_eq!(
            parse_size("16EiB"),
            Ok(u64::MAX),
            "the limit itself is the largest size"
        );
    }

    #[test]
    fn size_rejections() {
        for bad in ["", "-1KiB", "1.5", "4 KiB", "4KiBs", "KiB", "1e3", "4kb4"] {
            let err = parse_size(bad).unwrap_err().to_string();
            assert!(
                err.contains(&format!("`{bad}`")) && err.contains("50MiB"),
                "{err}"
            );
        }
        assert!(matches!(
            parse_size("99999999TiB"),
            Err(UnitError::OutOfRange { .. })
        ));
        for over in ["16.0001EiB", "17EiB", "18.5EB"] {
            assert!(
                matches!(parse_size(over), Err(UnitError::OutOfRange { .. })),
                "{over}"
            );
        }
    }

    #[test]
    fn rates_plain_and_per_period() {
        assert_eq!(parse_rate("200"), Ok(200.0));
        assert_eq!(parse_rate("12.5"), Ok(12.5));
        assert_eq!(parse_rate("50/1s"), Ok(50.0));
        assert_eq!(parse_rate("600/1m"), Ok(10.0));
        assert_eq!(parse_rate("10/500ms"), Ok(20.0));
        assert_eq!(parse_rate("60/m"), Ok(1.0));
        assert_eq!(parse_rate("0"), Ok(0.0));
    }

    #[test]
    fn rate_rejections() {
        for bad in [
            "", "-5", "5/", "5/0s", "fast", "5 /s", "1e3", "inf", "NaN", "5/1x",
        ] {
            let err = parse_rate(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
        assert!(parse_rate("fast")
            .unwrap_err()
            .to_string()
            .contains("50/1s"));
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("1%"), Ok(0.01));
        assert_eq!(parse_percent("0.5%"), Ok(0.005));
        assert_eq!(parse_percent("100%"), Ok(1.0));
        assert_eq!(parse_percent("0%"), Ok(0.0));
        assert!(matches!(
            parse_percent("101%"),
            Err(UnitError::OutOfRange { .. })
        ));
        for bad in ["1", "-1%", "%", "one%", "1 %"] {
            let err = parse_percent(bad).unwrap_err().to_string();
            assert!(
                err.contains(&format!("`{bad}`")) && err.contains("1%"),
                "{err}"
            );
        }
    }

    #[test]
    fn format_size_picks_binary_units() {
        assert_eq!(format_size(1536.0), "1.5KiB");
        assert_eq!(format_size(512.0), "512B");
        assert_eq!(format_size(50.0 * 1024.0 * 1024.0), "50MiB");
        assert_eq!(format_size(-1536.0), "-1.5KiB");
        assert_eq!(format_size(12.34), "12.3B");
        assert_eq!(format_size(0.0), "0B");
        assert_eq!(format_size(1023.9), "1KiB");
        assert_eq!(format_size(1.234 * 1024.0 * 1024.0 * 1024.0), "1.23GiB");
    }

    #[test]
    fn formatted_sizes_and_durations_parse_back() {
        for b in [512.0, 1536.0, 52428800.0, 3.0 * 1024.0 * 1024.0 * 1024.0] {
            assert_eq!(parse_size(&format_size(b)), Ok(b as u64));
        }
        for d in [ms(500), ms(1500), ms(90_000), ms(7_200_000), ms(5_400_000)] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }

    #[test]
    fn format_duration_forms() {
        assert_eq!(format_duration(ms(90_000)), "1m30s");
        assert_eq!(format_duration(ms(500)), "500ms");
        assert_eq!(format_duration(ms(7_200_000)), "2h");
        assert_eq!(format_duration(ms(5_400_000)), "1h30m");
        assert_eq!(format_duration(ms(12_345)), "12.345s");
        assert_eq!(format_duration(Duration::from_micros(250)), "0.25ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn format_rate_forms() {
        assert_eq!(format_rate(400.0), "400/s");
        assert_eq!(format_rate(12.5), "12.5/s");
        assert_eq!(format_rate(0.333), "0.33/s");
    }
}

#[cfg(test)]
#[path = "units_fuzz_tests.rs"]
mod fuzz_tests;
