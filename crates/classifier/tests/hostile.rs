//! Every file of tests/images/hostile/ through decode + preprocess:
//! the answer its README table expects, PIL's crop where PIL has one, and a
//! peak allocation within the estimate the memory budget used.

mod common;

use densenet_edge::{decode_crop, decode_crop_cost, decode_work, DecodeLimits, Preprocess};
use densenet_edge_npy::parse_npy;

// Counted on the measuring thread only: the other tests of this binary
// run meanwhile.
#[global_allocator]
static ALLOC: densenet_edge_heap_count::Counting = densenet_edge_heap_count::Counting;

/// (file, expected code or "ok" with the default limits, with a 64 MiB
/// budget) from the README table.
fn table() -> Vec<(String, String, String)> {
    let readme = std::fs::read_to_string(common::repo().join("tests/images/hostile/README.md")).unwrap();
    let rows: Vec<(String, String, String)> = readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(|c| c.trim().trim_matches('`')).collect();
            let n = cells.len();
            (cells[1].to_string(), cells[n - 3].to_string(), cells[n - 2].to_string())
        })
        .collect();
    assert!(rows.len() >= 20, "hostile README table has {} rows", rows.len());
    rows
}

fn reference(file: &str) -> Option<Vec<u8>> {
    let stem = file.rsplit_once('.').unwrap().0;
    let p = common::repo().join("tests/images/hostile/reference").join(format!("{stem}.crop.npy"));
    let bytes = std::fs::read(p).ok()?;
    let (shape, data) = parse_npy::<u8>(&bytes).unwrap();
    assert_eq!(shape, [224, 224, 3]);
    Some(data)
}

/// Every format must match PIL exactly, JPEG included: our decoder does
/// libjpeg-turbo's arithmetic.
fn tolerance(_file: &str) -> u8 {
    0
}

const TIGHT: DecodeLimits = DecodeLimits { max_decode_bytes: 64 << 20, ..DecodeLimits::DEFAULT };

#[test]
fn hostile_inputs_get_their_answer_within_the_estimated_memory() {
    check(&DecodeLimits::default(), |(file, default, _)| (file, default));
}

#[test]
fn a_worker_sized_budget_refuses_before_allocating() {
    check(&TIGHT, |(file, _, tight)| (file, tight));
}

fn check(limits: &DecodeLimits, pick: impl Fn((String, String, String)) -> (String, String)) {
    let pre = Preprocess::default();
    let mut failures = Vec::new();
    for (file, expected) in table().into_iter().map(pick) {
        let bytes = common::image(&format!("hostile/{file}"));
        let cost = decode_crop_cost(&bytes, limits, &pre);
        let (result, peak) = densenet_edge_heap_count::thread_peak_during(|| decode_crop(&bytes, limits, &pre));
        let peak = peak as u64;
        let got = match &result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        let estimate = cost.as_ref().map_or(0, |c| *c);
        let work =
            decode_work(&bytes, limits).map_or_else(|e| e.code().to_string(), |w| format!("{:.1} MP", w as f64 / 1e6));
        println!(
            "{file}: {got}, peak {:.1} MiB, estimate {}, work {work}",
            peak as f64 / 1048576.0,
            cost.as_ref().map_or_else(|e| e.code().to_string(), |c| format!("{:.1} MiB", *c as f64 / 1048576.0))
        );
        if got != expected {
            failures.push(format!("{file}: {got}, expected {expected} ({result:?})", result = result.as_ref().err()));
        }
        // Refused from the header: the image crate's JPEG decoder copies the
        // input to read it, nothing else is allocated.
        if got == "image_too_large" && peak > bytes.len() as u64 + (256 << 10) {
            failures.push(format!("{file}: refused after allocating {peak} bytes"));
        }
        if cost.is_ok() && peak > estimate {
            failures.push(format!("{file}: peak {peak} over the estimate {estimate}"));
        }
        if let (Ok(img), Some(theirs)) = (&result, reference(&file)) {
            let diff = img.as_raw().iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
            println!("    max |ours - PIL| = {diff}");
            if diff > tolerance(&file) {
                failures.push(format!("{file}: {diff} levels from PIL"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn inputs_found_by_the_property_test_stay_within_their_estimate() {
    let dir = common::repo().join("tests/images/hostile/fuzz");
    let pre = Preprocess::default();
    let limits = DecodeLimits::default();
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let estimate = decode_crop_cost(&bytes, &limits, &pre);
        let (result, peak) = densenet_edge_heap_count::thread_peak_during(|| decode_crop(&bytes, &limits, &pre));
        let peak = peak as u64;
        if let Ok(estimate) = estimate {
            assert!(peak <= estimate, "{}: peak {peak} over the estimate {estimate}", path.display());
        }
        println!("{}: {:?}, peak {peak}", path.display(), result.map(|_| ()).map_err(|e| e.code()));
        n += 1;
    }
    assert!(n >= 2);
}
