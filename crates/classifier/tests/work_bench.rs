//! CPU time of hostile JPEGs against a real 12 MP photo, from bytes to the
//! 224x224 crop (`decode_crop`, what `Classifier::prepare` runs). Prints
//! numbers; asserts nothing about time. Use a release build:
//!
//!     cargo test --release -p densenet-edge --no-default-features \
//!         --test work_bench -- --ignored --nocapture
//!
//! The 12 MP photo is made here (chelsea.png upscaled to 4000x3000 with a
//! little noise, baseline 4:2:0, quality 90, by the `image` crate's
//! encoder). PIL's version of it, with EXIF orientation 6, and its
//! progressive twin are read too when present, and 4:4:4 ones:
//!
//!     $VENV_DIR/bin/python model/make_jpeg_references.py --big /tmp/jpeg-12mp.jpg
//!     $VENV_DIR/bin/python -c "from PIL import Image; im = Image.open('/tmp/jpeg-12mp.jpg').convert('RGB'); \
//!         im.save('/tmp/jpeg-12mp-444.jpg', quality=90, subsampling=0); \
//!         im.save('/tmp/jpeg-12mp-444_prog.jpg', quality=90, subsampling=0, progressive=True)"
//!
//! Wall times on a shared machine move by 2x between runs: `decode_one_file`
//! runs one input for an instruction count (valgrind --tool=callgrind), and
//! `write_inputs` writes the inputs made here to a directory.

mod common;
#[path = "support/hostile_jpeg.rs"]
mod hostile_jpeg;

use std::time::Instant;

use densenet_edge::{decode_crop, decode_work, DecodeLimits, Preprocess};

fn best_of<F: FnMut()>(runs: usize, mut f: F) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

/// A photo-like 4000x3000 JPEG: the cat upscaled, with +-6 levels of noise
/// so that its entropy-coded data is as dense as a phone photo's (~2 MB).
pub fn photo_12mp() -> Vec<u8> {
    let cat = image::load_from_memory(&common::image("photos/chelsea.png")).unwrap().to_rgb8();
    let mut big = image::imageops::resize(&cat, 4000, 3000, image::imageops::FilterType::Triangle);
    let mut s = 0x2545_f491_4f6c_dd1du64;
    for p in big.iter_mut() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *p = (*p as i32 + (s % 13) as i32 - 6).clamp(0, 255) as u8;
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&big).unwrap();
    out
}

#[test]
#[ignore]
fn hostile_jpegs_against_a_12mp_photo() {
    let limits = DecodeLimits { max_bytes: 64 << 20, ..DecodeLimits::default() };
    let pre = Preprocess::default();
    // Time, and the time per pixel of work charged: a hostile input whose
    // ns per pixel is above the photo's is charged less than it costs.
    let time = |name: &str, bytes: &[u8], runs: usize| -> f64 {
        let t = best_of(runs, || {
            let _ = decode_crop(bytes, &limits, &pre);
        });
        let answer = decode_crop(bytes, &limits, &pre).map(|_| "ok").unwrap_or_else(|e| e.code());
        let work = decode_work(bytes, &limits).map_or(0, |w| w);
        println!(
            "{name:56} {:>9} B {:8.1} ms  {answer:14} work {:6.1} MP, {:5.1} ns/pixel",
            bytes.len(),
            t * 1e3,
            work as f64 / 1e6,
            t * 1e9 / work.max(1) as f64
        );
        t
    };
    let photo = photo_12mp();
    let base = time("12 MP photo, baseline 4:2:0 q90 (image crate)", &photo, 5);
    for p in ["/tmp/jpeg-12mp.jpg", "/tmp/jpeg-12mp_prog.jpg", "/tmp/jpeg-12mp-444.jpg", "/tmp/jpeg-12mp-444_prog.jpg"]
    {
        if let Ok(b) = std::fs::read(p) {
            let t = time(&format!("{p} (PIL)"), &b, 5);
            println!("  {:.2}x the photo", t / base);
        }
    }
    let header = hostile_jpeg::header_only(6000, 6600);
    let one = time("header-only 6000x6600 baseline, 1 image", &header, 5);
    println!("  16 of them: {:.1} ms = {:.2}x the photo", 16.0 * one * 1e3, 16.0 * one / base);
    let rotated = hostile_jpeg::with_orientation(&header, 6);
    let t = time("the same with EXIF orientation 6 (transposing resize)", &rotated, 5);
    println!("  16 of them: {:.1} ms = {:.2}x the photo", 16.0 * t * 1e3, 16.0 * t / base);
    // Before the scan cap, the last one ran for hours: WORK_BENCH_SMALL=1 leaves it out.
    let small = std::env::var_os("WORK_BENCH_SMALL").is_some();
    for (w, h, n) in [(64, 64, 200_000), (64, 64, 600_000), (6000, 6600, 600_000)] {
        if small && w > 64 {
            continue;
        }
        let b = hostile_jpeg::empty_scans(w, h, n);
        let t = time(&format!("progressive {w}x{h}, {n} empty scans"), &b, 1);
        println!("  {:.2}x the photo", t / base);
    }
    // Markers a decoder parses one by one, 20 MB of them before a 64x64
    // baseline image: Huffman tables (each one built), XMP packets (each
    // searched for an orientation), restart markers.
    let tiny = hostile_jpeg::header_only(64, 64);
    let mut dht = vec![0x10u8];
    dht.extend([0u8; 16]);
    let dht = hostile_jpeg::segment(0xC4, &dht.repeat(3800));
    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    xmp.extend(b"<x:xmpmeta tiff:Orientation ".repeat(2300));
    let xmp = hostile_jpeg::segment(0xE1, &xmp);
    for (name, seg) in
        [("DHT segments (3800 tables each)", dht), ("XMP packets", xmp), ("RST markers", vec![0xFF, 0xD0])]
    {
        let mut b = tiny[..2].to_vec();
        while b.len() < 20 << 20 {
            b.extend_from_slice(&seg);
        }
        b.extend_from_slice(&tiny[2..]);
        let t = time(&format!("20 MB of {name}, then a 64x64 image"), &b, 2);
        println!("  {:.2}x the photo", t / base);
    }
    let prog_header = common::image("hostile/jpeg_progressive_header_6000x6000.jpg");
    let t = time("progressive header-only 6000x6000 (hostile/)", &prog_header, 2);
    println!("  {:.2}x the photo", t / base);
    // What one block of each kind of scan costs, against a pixel of the
    // photo: the figures behind markers::scan_work's weights.
    let photo_pixel = base / 12e6;
    use hostile_jpeg::Scans;
    for kind in
        [Scans::AcFirstEobRuns, Scans::AcRefineEobRuns, Scans::AcRefineNonzero, Scans::DcRefine, Scans::Sequential]
    {
        let few = hostile_jpeg::many_scans(2000, 2000, 10, kind);
        let many = hostile_jpeg::many_scans(2000, 2000, 500, kind);
        let t_few = time(&format!("2000x2000, 10 scans {kind:?}"), &few, 3);
        let t_many = time(&format!("2000x2000, 500 scans {kind:?}"), &many, 2);
        let block = (t_many - t_few) / (490.0 * 250.0 * 250.0);
        println!(
            "  {:.2}x the photo; a block of such a scan: {:.1} ns = {:.2} photo pixels",
            t_many / base,
            block * 1e9,
            block / photo_pixel
        );
    }
}

/// One file through `decode_crop`, `WORK_BENCH_RUNS` times (default 1), for
/// counting instructions, which the machine's load does not change:
///
///     WORK_BENCH_FILE=/tmp/x.jpg perf stat -e instructions:u \
///         target/release/deps/work_bench-* --ignored decode_one_file
#[test]
#[ignore]
fn decode_one_file() {
    if let Ok(size) = std::env::var("WORK_BENCH_RGBA") {
        // RGBA pixels of that size (e.g. 4000x3000) through rgba_crop.
        let (w, h) = size.split_once('x').map(|(w, h)| (w.parse().unwrap(), h.parse().unwrap())).unwrap();
        let pixels: Vec<u8> = (0..w as usize * h as usize * 4).map(|i| (i * 7 / 5) as u8).collect();
        let r = densenet_edge::rgba_crop(pixels.as_slice(), w, h, &DecodeLimits::default(), &Preprocess::default());
        println!("{}", r.map(|_| "ok").unwrap_or_else(|e| e.code()));
        return;
    }
    let Some(path) = std::env::var_os("WORK_BENCH_FILE") else { return };
    let bytes = std::fs::read(path).unwrap();
    let runs: usize = std::env::var("WORK_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let limits = DecodeLimits { max_bytes: 64 << 20, ..DecodeLimits::default() };
    for _ in 0..runs {
        let r = decode_crop(&bytes, &limits, &Preprocess::default());
        println!("{}", r.map(|_| "ok").unwrap_or_else(|e| e.code()));
    }
}

/// Writes the inputs made here to `WORK_BENCH_WRITE` (a directory), for
/// [`decode_one_file`] and other decoders.
#[test]
#[ignore]
fn write_inputs() {
    let Some(dir) = std::env::var_os("WORK_BENCH_WRITE") else { return };
    let dir = std::path::PathBuf::from(dir);
    let header = hostile_jpeg::header_only(6000, 6600);
    std::fs::write(dir.join("photo_12mp.jpg"), photo_12mp()).unwrap();
    std::fs::write(dir.join("header_only_6000x6600.jpg"), &header).unwrap();
    std::fs::write(dir.join("header_only_6000x6600_exif6.jpg"), hostile_jpeg::with_orientation(&header, 6)).unwrap();
    std::fs::write(dir.join("empty_scans_600000.jpg"), hostile_jpeg::empty_scans(64, 64, 600_000)).unwrap();
    std::fs::write(dir.join("empty_scans_200000.jpg"), hostile_jpeg::empty_scans(64, 64, 200_000)).unwrap();
    let refine = hostile_jpeg::many_scans(2000, 2000, 500, hostile_jpeg::Scans::AcRefineEobRuns);
    std::fs::write(dir.join("refine_eob_500.jpg"), refine).unwrap();
}
