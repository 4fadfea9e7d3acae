//! The JPEG decoder against PIL's pixels (model/make_jpeg_references.py),
//! its memory bound, and hostile inputs.

#[path = "support/hostile_jpeg.rs"]
mod hostile_jpeg;

use densenet_edge::jpeg_rows as jpeg;
use jpeg::RowSource;
use std::path::PathBuf;
use std::sync::Mutex;

#[global_allocator]
static A: densenet_edge_heap_count::Counting = densenet_edge_heap_count::Counting;
/// Tests run on several threads and the heap's counters are global: every
/// test here takes this lock, so one measures while the others wait.
static SERIAL: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("../..")
}

struct Ref {
    name: String,
    path: String,
    width: usize,
    height: usize,
    orientation: u8,
}

fn references() -> Vec<Ref> {
    let text = std::fs::read_to_string(root().join("model/reference/jpeg/index.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out: Vec<Ref> = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, e)| Ref {
            name: k.clone(),
            path: e["path"].as_str().unwrap().to_string(),
            width: e["width"].as_u64().unwrap() as usize,
            height: e["height"].as_u64().unwrap() as usize,
            orientation: e["orientation"].as_u64().unwrap() as u8,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 75, "expected the full reference set");
    out
}

#[test]
fn every_reference_matches_pil_exactly() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut worst = (0u8, String::new());
    for r in references() {
        let bytes = std::fs::read(root().join(&r.path)).unwrap();
        let png = std::fs::read(root().join(format!("model/reference/jpeg/{}.png", r.name))).unwrap();
        let want = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap().to_rgb8().into_raw();
        let rows = jpeg::JpegRows::new(&bytes).unwrap_or_else(|e| panic!("{}: {e}", r.name));
        assert_eq!((rows.width() as usize, rows.height() as usize), (r.width, r.height), "{}", r.name);
        assert_eq!(rows.orientation(), r.orientation, "{}: orientation", r.name);
        let (_, _, got) = jpeg::decode_rgb(&bytes).unwrap_or_else(|e| panic!("{}: {e}", r.name));
        assert_eq!(got.len(), want.len(), "{}", r.name);
        let diff = got.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
        let count = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        println!("{:28} {}x{} max diff {diff} ({count} samples differ)", r.name, r.width, r.height);
        if diff > worst.0 {
            worst = (diff, r.name.clone());
        }
    }
    println!("worst max diff: {} {}", worst.0, worst.1);
    assert_eq!(worst.0, 0, "not bit-exact with PIL: {}", worst.1);
}

#[test]
fn rows_skipped_as_repeats_are_the_rows_computed() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Files whose data runs out, and one whose data is all there.
    let mut files: Vec<(String, Vec<u8>)> = references()
        .into_iter()
        .filter(|r| r.name.contains("eoi") || r.name == "land_420_q75")
        .map(|r| (r.name.clone(), std::fs::read(root().join(&r.path)).unwrap()))
        .collect();
    assert!(files.len() >= 4, "{}", files.len());
    // (tests/hostile.rs checks the big ones against PIL: a header without
    // data, a scan cut short, restart intervals without data.)
    files.push(("header_only_1000x700".into(), hostile_jpeg::header_only(1000, 700)));
    for (name, bytes) in files {
        let (_, h, computed) = jpeg::decode_rgb_with(&bytes, false).unwrap();
        // How many rows a reader that skips repeats does not compute.
        let mut rows = jpeg::JpegRows::new(&bytes).unwrap();
        let mut row = vec![0u8; rows.width() as usize * 3];
        let mut skipped = 0;
        for y in 0..h {
            if y > 0 && rows.skip_repeated_row().unwrap() {
                skipped += 1;
            } else {
                rows.next_row(&mut row).unwrap();
            }
        }
        let (_, _, skipping) = jpeg::decode_rgb_with(&bytes, true).unwrap();
        println!("{name}: {skipped} of {h} rows skipped");
        assert!(computed == skipping, "{name}");
        if name == "land_420_q75" {
            assert_eq!(skipped, 0, "{name}");
        } else if name.starts_with("header_only") {
            assert!(skipped > h / 4, "{name}: {skipped} of {h} rows skipped");
        }
    }
}

/// Peak heap bytes while decoding `bytes` row by row (after new()), and the bound it stated.
fn measure(bytes: &[u8]) -> (usize, u64) {
    let probe = jpeg::JpegRows::new(bytes).unwrap();
    let mut row = vec![0u8; probe.width() as usize * 3];
    drop(probe);
    let (stated, peak) = densenet_edge_heap_count::peak_during(|| {
        let mut rows = jpeg::JpegRows::new(bytes).unwrap();
        for _ in 0..rows.height() {
            rows.next_row(&mut row).unwrap();
        }
        rows.peak_bytes()
    });
    (peak, stated)
}

#[test]
fn allocations_stay_under_peak_bytes() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for r in references() {
        let bytes = std::fs::read(root().join(&r.path)).unwrap();
        let (peak, stated) = measure(&bytes);
        println!("{:28} peak {peak:>8} stated {stated:>8}", r.name);
        assert!(peak as u64 <= stated, "{}: allocated {peak} > stated {stated}", r.name);
    }
}

#[test]
fn a_baseline_jpeg_streams_in_a_few_mcu_rows() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 203x151 4:2:0 baseline: far less than the decoded image (92 KB).
    let bytes = std::fs::read(root().join("tests/images/jpeg/land_420_q75.jpg")).unwrap();
    let (peak, stated) = measure(&bytes);
    assert!(stated < 48_000, "stated {stated}");
    assert!(peak < 203 * 151 * 3 / 2, "peak {peak}");
    // A progressive one states its coefficient buffers.
    let bytes = std::fs::read(root().join("tests/images/jpeg/land_420_q75_prog.jpg")).unwrap();
    let (_, stated) = measure(&bytes);
    assert!(stated > 208 * 160 * 2 * 3 / 2, "stated {stated}");
}

fn code(bytes: &[u8]) -> &'static str {
    match jpeg::decode_rgb(bytes) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn truncated_and_corrupt_files_are_errors() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bad = |p: &str| std::fs::read(root().join(p)).unwrap();
    assert_eq!(code(&bad("tests/images/bad/truncated.jpg")), "corrupt_image");
    assert_eq!(code(&bad("tests/images/bad/corrupt.jpg")), "corrupt_image");
    assert_eq!(code(b""), "not_an_image");
    assert_eq!(code(b"\xFF\xD8"), "corrupt_image");
    for name in ["land_420_q75", "land_420_q75_prog", "astro_cmyk", "coffee_grey"] {
        let full = bad(&format!("tests/images/jpeg/{name}.jpg"));
        for cut in [full.len() / 3, full.len() / 2, full.len() - 40, full.len() - 2] {
            assert_eq!(code(&full[..cut]), "corrupt_image", "{name} cut at {cut}");
        }
    }
}

#[test]
fn unsupported_kinds_say_so() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let base = std::fs::read(root().join("tests/images/jpeg/land_420_q75.jpg")).unwrap();
    let sof = base.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    for (marker, what) in [(0xC9u8, "arithmetic"), (0xC3, "lossless")] {
        let mut b = base.clone();
        b[sof + 1] = marker;
        assert_eq!(code(&b), "unsupported_format", "{what}");
    }
    let mut b = base.clone();
    b[sof + 4] = 12; // precision
    assert_eq!(code(&b), "unsupported_format", "12-bit");
}

#[test]
fn mutated_inputs_never_panic() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let names = [
        "syn_17x9_420",
        "syn_33x31_422_prog",
        "syn_9x17_444",
        "syn_17x9_grey",
        "astro_cmyk_prog",
        "land_restart_420",
        "syn37x29_ycck",
        "syn37x29_440",
        "land_restart_prog",
    ];
    let files: Vec<Vec<u8>> =
        names.iter().map(|n| std::fs::read(root().join(format!("tests/images/jpeg/{n}.jpg"))).unwrap()).collect();
    let mut s = 0x9E3779B97F4A7C15u64;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let (mut ok, mut err) = (0, 0);
    // JPEG_FUZZ_CASES=200000 for a longer run.
    let cases: usize = std::env::var("JPEG_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    for i in 0..cases {
        let mut b = files[i % files.len()].clone();
        for _ in 0..1 + rnd() % 4 {
            let at = (rnd() % b.len() as u64) as usize;
            match rnd() % 5 {
                0 => b[at] = rnd() as u8,
                1 => b[at] ^= 1 << (rnd() % 8),
                2 => b[at] = 0xFF,
                3 => b.truncate(at.max(2)),
                _ => b.insert(at, rnd() as u8),
            }
        }
        // Limits a caller applies before decoding: pixels and stated memory.
        match jpeg::JpegRows::new(&b) {
            Ok(r) if (r.width() as u64 * r.height() as u64) <= 1 << 20 && r.peak_bytes() <= 64 << 20 => {
                match jpeg::decode_rgb(&b) {
                    Ok(_) => ok += 1,
                    Err(_) => err += 1,
                }
            }
            Ok(_) | Err(_) => err += 1,
        }
    }
    println!("mutations: {ok} decoded, {err} rejected");
    assert!(err > 0 && ok > 0);
}
