//! Property tests (proptest) for the unit parsers: they never panic on any text, a value a
//! formatter prints parses back to (nearly) the same value, and multi-part durations add up.
//!
//! CI runs the default case count (256 per property, `PROPTEST_CASES` overrides it); a long
//! local run: `PROPTEST_CASES=100000 cargo test --lib units::fuzz_tests`.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

/// Text shaped like a unit value (digits, dots, unit letters, signs, slashes, spaces), which
/// reaches far deeper into the parsers than uniformly random strings.
fn unitish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[0-9]{1,25}",
        "[0-9]{0,3}\\.[0-9]{0,40}",
        Just(".".to_string()),
        "(ms|h|m|s|us|ns|d)",
        "(B|b|KB|kb|MB|GB|TB|PB|KiB|kib|MiB|GiB|TiB|PiB|EiB|k|K|iB)",
        "(%|/|/s|/1s|/1m|/0s|/500ms|/h|-|\\+|e|E| |\\t|_|,)",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn parsers_never_panic_on_any_text(s in any::<String>()) {
        let _ = parse_duration(&s);
        let _ = parse_size(&s);
        let _ = parse_rate(&s);
        let _ = parse_percent(&s);
    }

    #[test]
    fn parsers_never_panic_on_unit_shaped_text(s in unitish()) {
        let _ = parse_duration(&s);
        let _ = parse_size(&s);
        let _ = parse_rate(&s);
        let _ = parse_percent(&s);
        // What parses is in range and finite.
        if let Ok(r) = parse_rate(&s) {
            prop_assert!(r.is_finite() && r >= 0.0, "{s:?} -> {r}");
        }
        if let Ok(p) = parse_percent(&s) {
            prop_assert!((0.0..=1.0).contains(&p), "{s:?} -> {p}");
        }
        if let Ok(d) = parse_duration(&s) {
            prop_assert!(d.as_secs() <= 1_000_000_000, "{s:?} -> {d:?}");
        }
    }

    /// Errors quote the text the user wrote, so they can find it.
    #[test]
    fn errors_quote_the_text(s in unitish()) {
        if let Err(e) = parse_size(&s) {
            prop_assert!(e.to_string().contains(&format!("`{s}`")), "{e}");
        }
        if let Err(e) = parse_duration(&s) {
            prop_assert!(e.to_string().contains(&format!("`{s}`")), "{e}");
        }
    }

    /// `1h2m3s4ms` style: descending units add up; anything else is refused.
    #[test]
    fn multi_part_durations_add_up(parts in proptest::collection::vec((0u64..100_000, 0usize..4), 1..5)) {
        const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];
        let text: String = parts.iter().map(|(n, u)| format!("{n}{}", UNITS[*u].0)).collect();
        let descending = parts.windows(2).all(|w| w[0].1 < w[1].1);
        let millis: u64 = parts.iter().map(|(n, u)| n * UNITS[*u].1).sum();
        match parse_duration(&text) {
            Ok(d) => {
                prop_assert!(descending, "{text} was accepted");
                prop_assert_eq!(d, Duration::from_millis(millis), "{}", text);
            }
            Err(e) => prop_assert!(!descending, "{text} refused: {e}"),
        }
    }

    /// Reports print sizes with 3 significant digits; pasted back they are within 0.5%.
    /// Up to 1023 TiB: above, format_size prints PiB (see `petabyte_sizes_round_trip`).
    #[test]
    fn sizes_round_trip(bytes in 0u64..(1023u64 << 40)) {
        let text = format_size(bytes as f64);
        let back = parse_size(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let err = (back as f64 - bytes as f64).abs();
        prop_assert!(err <= bytes as f64 * 0.005 + 1.0, "{bytes} -> {text} -> {back}");
    }

    /// Whole sizes in every accepted unit parse exactly.
    #[test]
    fn sizes_in_every_unit_parse_exactly(n in 0u64..1_000_000, unit in 0usize..10) {
        const UNITS: [(&str, u64); 10] = [
            ("B", 1), ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000),
            ("TB", 1_000_000_000_000), ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
            ("TiB", 1 << 40), ("b", 1),
        ];
        let (name, mult) = UNITS[unit];
        prop_assert_eq!(parse_size(&format!("{n}{name}")), Ok(n * mult));
    }

    #[test]
    fn durations_round_trip(nanos in 0u64..1_000_000_000_000_000_000) {
        let d = Duration::from_nanos(nanos);
        let text = format_duration(d);
        let back = parse_duration(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let err = back.as_secs_f64() - d.as_secs_f64();
        let allowed = if d < Duration::from_secs(1) {
            d.as_secs_f64() * 0.005 + 5e-6
        } else if d < Duration::from_secs(60) {
            0.0005 + 1e-9
        } else {
            0.5 + 1e-9
        };
        prop_assert!(err.abs() <= allowed, "{d:?} -> {text} -> {back:?}");
    }

    #[test]
    fn rates_round_trip(rate in 0.0f64..2_000_000.0) {
        let text = format_rate(rate);
        let back = parse_rate(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert!((back - rate).abs() <= rate * 0.005 + 0.005, "{rate} -> {text} -> {back}");
    }

    /// `N/period` is N divided by the period in seconds.
    #[test]
    fn rates_per_period(n in 0u32..1_000_000, ms in 1u64..3_600_000) {
        let text = format!("{n}/{ms}ms");
        let r = parse_rate(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let expected = f64::from(n) / (ms as f64 / 1000.0);
        prop_assert!((r - expected).abs() <= expected * 1e-9, "{text} -> {r}");
    }

    #[test]
    fn percents_round_trip(thousandths in 0u32..=100_000) {
        let pct = f64::from(thousandths) / 1000.0;
        let text = format!("{pct}%");
        let back = parse_percent(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert!((back - pct / 100.0).abs() < 1e-12, "{text} -> {back}");
    }
}

/// A size a report prints must paste back into a scenario (the module's promise), the PiB
/// and EiB that format_size prints for the largest sizes included.
#[test]
fn petabyte_sizes_round_trip() {
    // 1125350151028736 (1023.5 TiB) is what the round-trip property found: it prints `1PiB`.
    for bytes in [
        1_125_350_151_028_736,
        1u64 << 50,
        3 << 52,
        1 << 60,
        u64::MAX,
    ] {
        let text = format_size(bytes as f64);
        assert!(
            parse_size(&text).is_ok(),
            "{bytes} -> {text} does not parse"
        );
    }
}
