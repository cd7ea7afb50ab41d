//! Plot tests: every figure renders from a synthetic run, PNGs decode at the stated size and
//! carry drawn text, SVGs are well-formed and carry the labels a reader needs.

use super::synthetic::Synthetic;
use super::*;
use crate::analysis;
use crate::timeline::Timeline;

fn run(spec: Synthetic) -> (RunRecord, Analysis) {
    let record = spec.record().expect("synthetic scenario parses");
    let a = analysis::analyze(&record.plan, &record.timeline);
    (record, a)
}

/// (width, height, RGB bytes) of a PNG.
fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = dec.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Checks the SVG parses as XML from start to end and returns its text content.
fn svg_text(svg: &str) -> String {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut text = String::new();
    let mut depth = 0i32;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Text(t)) => {
                text.push_str(&String::from_utf8_lossy(t.as_ref()));
                text.push('\n');
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "SVG is not well-formed at {}: {e}",
                reader.buffer_position()
            ),
        }
    }
    assert_eq!(depth, 0, "unbalanced SVG elements");
    text
}

/// Pixels at most `tol` away from `c` in every channel, within rows `rows`.
fn count_near(
    rgb: &[u8],
    width: u32,
    rows: std::ops::Range<u32>,
    c: (u8, u8, u8),
    tol: u8,
) -> usize {
    let near = |a: u8, b: u8| a.abs_diff(b) <= tol;
    rows.flat_map(|y| (0..width).map(move |x| ((y * width + x) * 3) as usize))
        .filter(|&i| near(rgb[i], c.0) && near(rgb[i + 1], c.1) && near(rgb[i + 2], c.2))
        .count()
}

#[test]
fn every_figure_renders_in_both_formats_at_its_size() {
    let (record, a) = run(Synthetic {
        event: true,
        ..Synthetic::default()
    });
    let figs = render_run(&record, &a).unwrap();
    let stems: Vec<&str> = figs.iter().map(|f| f.stem).collect();
    assert_eq!(
        stems,
        [
            "memory-vs-requests",
            "memory-vs-time",
            "latency",
            "throughput"
        ]
    );
    for f in &figs {
        let (w, h, rgb) = decode(&f.png);
        assert_eq!((w, h), (f.width, f.height), "{}", f.stem);
        assert!(
            f.svg.starts_with(&format!(
                r#"<svg width="{}" height="{}""#,
                f.width, f.height
            )),
            "{}",
            f.stem
        );
        // Not blank: a good share of the image is neither white nor near-white.
        let inked = rgb.chunks(3).filter(|p| p.iter().any(|&v| v < 200)).count();
        assert!(
            inked > (w * h) as usize / 100,
            "{} looks blank: {inked} inked pixels",
            f.stem
        );
    }
    // Two endpoints: one latency panel each.
    assert_eq!(figs[2].height, 50 + 250 * 2);
}

#[test]
fn png_text_is_drawn_with_the_embedded_font() {
    let (record, a) = run(Synthetic::default());
    let fig = memory::MemoryFigure::new(&record.timeline, &a, memory::XAxis::Requests, 12.0);
    let r = render("memory-vs-requests", fig.caption(), &fig).unwrap();
    let (w, _, rgb) = decode(&r.png);
    // The caption is dark text in the top 36 rows: without glyphs there would be none.
    let ink = count_near(&rgb, w, 0..36, (40, 44, 52), 60);
    assert!(ink > 400, "caption pixels: {ink}");
}

#[test]
fn memory_plot_labels_units_phases_fit_and_events() {
    let (record, a) = run(Synthetic {
        event: true,
        ..Synthetic::default()
    });
    let figs = render_run(&record, &a).unwrap();
    let text = svg_text(&figs[0].svg);
    for want in [
        "requests completed",
        "rss_anon (judged)",
        "rss_file",
        "warmup · 200/s · warm-up, not judged",
        "soak · 400/s",
        "rest · idle",
        "target restarted",
        "fit +",
        "B/request, 95% band",
        "MiB",
        "k",
    ] {
        assert!(
            text.contains(want),
            "memory-vs-requests SVG lacks {want:?}:\n{text}"
        );
    }
    assert!(!text.contains("swap"), "all-zero metrics are left out");
    let time = svg_text(&figs[1].svg);
    assert!(
        time.contains("request rate (right axis)") && time.contains("/s"),
        "{time}"
    );
    let lat = svg_text(&figs[2].svg);
    assert!(
        lat.contains("endpoint: endpoint-0")
            && lat.contains("endpoint: endpoint-1")
            && lat.contains("p99"),
        "{lat}"
    );
}

#[test]
fn a_run_without_samples_still_gets_readable_figures() {
    let (mut record, _) = run(Synthetic::default());
    record.timeline = Timeline {
        endpoints: record.timeline.endpoints.clone(),
        ..Timeline::default()
    };
    let a = analysis::analyze(&record.plan, &record.timeline);
    let figs = render_run(&record, &a).unwrap();
    assert!(svg_text(&figs[0].svg).contains("no memory samples were recorded"));
    assert!(svg_text(&figs[2].svg).contains("no requests completed"));
    assert!(svg_text(&figs[3].svg).contains("no intervals were recorded"));
}

#[test]
fn long_runs_are_thinned_and_use_minutes() {
    let (record, a) = run(Synthetic {
        ticks: 3600,
        endpoints: 5,
        latencies_per_tick: 3,
        ..Synthetic::default()
    });
    let figs = render_run(&record, &a).unwrap();
    assert_eq!(figs[2].height, 50 + 250 * 5, "one panel per endpoint");
    for f in &figs {
        // Thinned to at most ~1,200 points per line: an SVG stays far below 1 point per tick
        // per series (5 endpoints x 4 percentiles x 3,600 ticks would be megabytes).
        assert!(
            f.svg.len() < 400_000,
            "{} SVG is {} bytes",
            f.stem,
            f.svg.len()
        );
    }
    let time = svg_text(&figs[1].svg);
    assert!(
        time.contains("10m") && time.contains("1h"),
        "minute ticks expected:\n{time}"
    );
}

#[test]
fn write_all_writes_png_and_svg_per_figure() {
    let (record, a) = run(Synthetic::default());
    let figs = render_run(&record, &a).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_all(dir.path(), &figs).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(names.contains(&"memory-vs-requests.png".to_string()));
    assert!(names.contains(&"throughput.svg".to_string()));
}
