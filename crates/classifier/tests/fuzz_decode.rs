//! Property test of decode + preprocess on random and mutated images of
//! every format: never a panic, always a clear error or a crop x crop
//! image, and never more memory than the budget estimated from the header.
//! Fixed seed and count here; `scripts/fuzz-decode.sh N [SEED]` runs more.

mod common;

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use densenet_edge::{decode_crop, decode_crop_cost, DecodeLimits, Preprocess};
use image::{DynamicImage, ImageFormat, RgbImage, RgbaImage};

// Counted on the measuring thread only: the other tests of this binary
// run meanwhile.
#[global_allocator]
static ALLOC: densenet_edge_heap_count::Counting = densenet_edge_heap_count::Counting;

/// xorshift64*: a few lines, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const CODES: [&str; 7] = [
    "empty_input",
    "not_an_image",
    "unsupported_format",
    "corrupt_image",
    "too_many_pixels",
    "image_too_large",
    "too_many_bytes",
];

fn random_image(rng: &mut Rng) -> Vec<u8> {
    // Mostly small, sometimes a sliver with an extreme aspect ratio.
    let (w, h) = match rng.below(4) {
        0 => (1 + rng.below(3) as u32, 1 + rng.below(3000) as u32),
        1 => (1 + rng.below(3000) as u32, 1 + rng.below(3) as u32),
        _ => (1 + rng.below(300) as u32, 1 + rng.below(300) as u32),
    };
    let seed = rng.next();
    let rgba = RgbaImage::from_fn(w, h, |x, y| {
        let v = (x as u64 * 31 + y as u64 * 17 + seed) as u8;
        image::Rgba([v, v.wrapping_mul(3), (x ^ y) as u8, (seed >> 8) as u8 ^ v])
    });
    let img = match rng.below(6) {
        0 => DynamicImage::ImageRgba8(rgba),
        1 => DynamicImage::ImageLuma8(DynamicImage::ImageRgba8(rgba).to_luma8()),
        2 => DynamicImage::ImageRgb16(DynamicImage::ImageRgba8(rgba).to_rgb16()),
        3 => DynamicImage::ImageLumaA8(DynamicImage::ImageRgba8(rgba).to_luma_alpha8()),
        _ => DynamicImage::ImageRgb8(
            RgbImage::from_raw(w, h, DynamicImage::ImageRgba8(rgba).to_rgb8().into_raw()).unwrap(),
        ),
    };
    let format = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif, ImageFormat::Bmp, ImageFormat::WebP]
        [rng.below(5) as usize];
    let img = match format {
        // JPEG takes 8-bit grey or RGB; WebP, GIF and BMP 8-bit.
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(img.to_rgb8()),
        ImageFormat::Png => img,
        _ => DynamicImage::ImageRgba8(img.to_rgba8()),
    };
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap_or_else(|e| panic!("encoding {format:?}: {e}"));
    out.into_inner()
}

fn corpus() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for dir in ["variants", "hostile", "bad"] {
        let path = common::repo().join("tests/images").join(dir);
        let mut names: Vec<_> = std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        for p in names {
            let bytes = std::fs::read(&p).unwrap_or_default();
            if p.is_file() && !p.extension().is_some_and(|e| e == "md" || e == "npy") && bytes.len() < 64 << 10 {
                files.push(bytes);
            }
        }
    }
    files
}

fn mutate(rng: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(4) {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len() as u64;
        match rng.below(6) {
            // Flip bytes, mostly in the header where sizes live.
            0 | 1 => {
                let at = if rng.below(2) == 0 { rng.below(len.min(64)) } else { rng.below(len) } as usize;
                bytes[at] = rng.next() as u8;
            }
            // A large 16-bit or 32-bit number in the header.
            2 => {
                let at = rng.below(len.min(48)) as usize;
                for b in bytes.iter_mut().skip(at).take(1 + rng.below(4) as usize) {
                    *b = [0xFF, 0x7F, 0x40, 0x00][rng.below(4) as usize];
                }
            }
            3 => bytes.truncate(rng.below(len) as usize),
            4 => {
                let at = rng.below(len) as usize;
                let junk: Vec<u8> = (0..1 + rng.below(32)).map(|_| rng.next() as u8).collect();
                bytes.splice(at..at, junk);
            }
            _ => {
                let at = rng.below(len) as usize;
                let n = rng.below(64) as usize;
                bytes.drain(at..(at + n).min(bytes.len()));
            }
        }
    }
    bytes
}

#[test]
fn decode_and_preprocess_never_panic_and_stay_within_the_budget() {
    let cases: usize = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400);
    let seed: u64 = std::env::var("FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5EED);
    let mut rng = Rng(seed | 1);
    // A small pixel cap keeps mutated headers cheap to decode in a debug build.
    let limits = DecodeLimits { max_pixels: 4_000_000, ..DecodeLimits::default() };
    let pre = Preprocess::default();
    let corpus = corpus();
    let mut failures = Vec::new();
    let mut answers = std::collections::BTreeMap::<&str, usize>::new();
    // Worst peak / estimate by the format the bytes claim to be.
    let mut worst = std::collections::BTreeMap::<String, f64>::new();
    for case in 0..cases {
        let bytes = match rng.below(3) {
            0 => random_image(&mut rng),
            1 => corpus[rng.below(corpus.len() as u64) as usize].clone(),
            _ => random_image(&mut rng),
        };
        let bytes = if rng.below(4) == 0 { bytes } else { mutate(&mut rng, bytes) };
        let run = catch_unwind(AssertUnwindSafe(|| {
            let cost = decode_crop_cost(&bytes, &limits, &pre);
            let (result, peak) = densenet_edge_heap_count::thread_peak_during(|| decode_crop(&bytes, &limits, &pre));
            let peak = peak as u64;
            (cost, result, peak)
        }));
        let Ok((cost, result, peak)) = run else {
            let path = std::env::temp_dir().join(format!("fuzz-decode-panic-{seed}-{case}.bin"));
            let _ = std::fs::write(&path, &bytes);
            failures.push(format!("case {case}: panic (input in {})", path.display()));
            continue;
        };
        let code = match &result {
            Ok(img) if img.dimensions() == (pre.crop, pre.crop) => "ok",
            Ok(img) => {
                failures.push(format!("case {case}: {}x{} output", img.width(), img.height()));
                continue;
            }
            Err(e) => e.code(),
        };
        if !code.is_empty() && code != "ok" && !CODES.contains(&code) {
            failures.push(format!("case {case}: unexpected code {code}"));
        }
        *answers.entry(code).or_default() += 1;
        match cost {
            Ok(estimate) => {
                let format = image::guess_format(&bytes).map_or("?".to_string(), |f| format!("{f:?}"));
                let w = worst.entry(format).or_default();
                *w = w.max(peak as f64 / estimate as f64);
                if peak > estimate {
                    let path = std::env::temp_dir().join(format!("fuzz-decode-over-{seed}-{case}.bin"));
                    let _ = std::fs::write(&path, &bytes);
                    failures.push(format!(
                        "case {case}: peak {peak} over the estimate {estimate} ({code}; {})",
                        path.display()
                    ));
                }
            }
            // Refused before decoding: only the header was read.
            Err(_) if peak > bytes.len() as u64 + (256 << 10) => {
                failures.push(format!("case {case}: refused after allocating {peak} bytes"));
            }
            Err(_) => {}
        }
    }
    println!("{cases} cases (seed {seed}): {answers:?}; worst peak / estimate by format {worst:.2?}");
    assert!(failures.is_empty(), "{failures:#?}");
}
