//! Decode speed of the JPEG decoder against `image` (zune-jpeg) on one
//! file, in the same run. Prints numbers; asserts nothing about time.
//!
//!     model/make_jpeg_references.py --big /tmp/jpeg-12mp.jpg
//!     JPEG_BENCH=/tmp/jpeg-12mp.jpg cargo test --release -p densenet-edge \
//!         --no-default-features --test jpeg_bench -- --ignored --nocapture

use densenet_edge::jpeg_rows as jpeg;
use jpeg::RowSource;
use std::time::Instant;

// Live heap bytes and their peak, to print what a decode really holds.
#[global_allocator]
static A: densenet_edge_heap_count::Counting = densenet_edge_heap_count::Counting;

fn best_of<F: FnMut()>(runs: usize, mut f: F) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

#[test]
#[ignore]
fn decode_speed_against_zune_jpeg() {
    let path = std::env::var("JPEG_BENCH").unwrap_or_else(|_| "/tmp/jpeg-12mp.jpg".into());
    for p in [path.clone(), path.replace(".jpg", "_prog.jpg")] {
        let Ok(bytes) = std::fs::read(&p) else {
            println!("{p}: missing");
            continue;
        };
        let probe = jpeg::JpegRows::new(&bytes).unwrap();
        let (w, h, peak) = (probe.width(), probe.height(), probe.peak_bytes());
        drop(probe);
        let mut row = vec![0u8; w as usize * 3];
        let ((), held) = densenet_edge_heap_count::peak_during(|| {
            let mut r = jpeg::JpegRows::new(&bytes).unwrap();
            for _ in 0..h {
                r.next_row(&mut row).unwrap();
            }
        });
        let ((), held_zune) = densenet_edge_heap_count::peak_during(|| {
            image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).unwrap();
        });
        let ours_rows = best_of(3, || {
            let mut r = jpeg::JpegRows::new(&bytes).unwrap();
            let mut row = vec![0u8; w as usize * 3];
            for _ in 0..h {
                r.next_row(&mut row).unwrap();
            }
        });
        let zune = best_of(3, || {
            let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).unwrap();
            assert_eq!(img.width(), w);
        });
        if let Ok(dump) = std::env::var("JPEG_BENCH_DUMP") {
            // Raw RGB of the whole image, to compare with PIL's tobytes().
            let (_, _, rgb) = jpeg::decode_rgb(&bytes).unwrap();
            std::fs::write(format!("{dump}.{}.rgb", if p.ends_with("_prog.jpg") { "prog" } else { "base" }), rgb)
                .unwrap();
        }
        println!(
            "{p}: {w}x{h}, ours (rows) {:.1} ms, image/zune-jpeg {:.1} ms, ratio {:.2}; heap peak ours {:.2} MiB (stated {:.2}) vs image/zune-jpeg {:.1} MiB",
            ours_rows * 1e3,
            zune * 1e3,
            ours_rows / zune,
            held as f64 / 1048576.0,
            peak as f64 / 1048576.0,
            held_zune as f64 / 1048576.0
        );
    }
}
