//! RGBA pixels (a canvas's ImageData) give the crop and tensor of the same
//! image encoded as PNG, with the same limit checks, within their estimate.

mod common;

use common::image;
use densenet_edge::{decode, decode_crop, rgba_crop, rgba_crop_cost, DecodeLimits, Error, Preprocess, RgbImage};

// Counted on the measuring thread only: the other tests of this binary
// run meanwhile.
#[global_allocator]
static ALLOC: densenet_edge_heap_count::Counting = densenet_edge_heap_count::Counting;

fn same_as_png(name: &str, rgba: &[u8], width: u32, height: u32, png: &[u8]) {
    let (limits, pre) = (DecodeLimits::default(), Preprocess::default());
    let (from_pixels, peak) =
        densenet_edge_heap_count::thread_peak_during(|| rgba_crop(rgba, width, height, &limits, &pre));
    let peak = peak as u64;
    let from_pixels = from_pixels.unwrap_or_else(|e| panic!("{name}: {e}"));
    let from_png = decode_crop(png, &limits, &pre).unwrap();
    assert!(from_pixels == from_png, "{name}: the crops differ");
    assert_eq!(pre.normalized(&[&from_pixels]).data, pre.normalized(&[&from_png]).data, "{name}: the tensors differ");
    let estimate = rgba_crop_cost(width, height, &limits, &pre).unwrap();
    assert!(peak <= estimate, "{name}: allocated {peak} bytes, estimated {estimate}");
}

#[test]
fn an_rgba_png_and_its_pixels_give_the_same_tensor() {
    // Alpha is dropped, not composited, on both paths (PIL's convert("RGB")).
    for name in ["variants/rgba.png", "variants/palette_trns.png", "variants/grey_alpha.png", "photos/chelsea.png"] {
        let png = image(name);
        let img = image::load_from_memory(&png).unwrap().to_rgba8();
        same_as_png(name, img.as_raw(), img.width(), img.height(), &png);
    }
}

#[test]
fn alpha_never_reaches_the_crop() {
    let png = image("photos/coffee.png");
    let rgb = decode(&png, &DecodeLimits::default()).unwrap();
    let mut seed = 7u32;
    let rgba: Vec<u8> = rgb
        .pixels()
        .flat_map(|p| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            [p.0[0], p.0[1], p.0[2], (seed >> 24) as u8]
        })
        .collect();
    same_as_png("coffee with random alpha", &rgba, rgb.width(), rgb.height(), &png);
}

#[test]
fn rows_are_read_in_steps_across_their_boundaries() {
    // 1000 rows of 300 pixels: several steps of rows, the last one short.
    let img = RgbImage::from_fn(300, 1000, |x, y| image::Rgb([(x * 7 + y) as u8, (x ^ y) as u8, (y / 3) as u8]));
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let rgba = image::DynamicImage::ImageRgb8(img).to_rgba8();
    same_as_png("300x1000", rgba.as_raw(), 300, 1000, &png);
}

fn code(r: Result<densenet_edge::Crop, Error>) -> &'static str {
    r.map(|_| ()).unwrap_err().code()
}

#[test]
fn limits_are_checked_before_a_pixel_is_read() {
    let pre = Preprocess::default();
    let limits = DecodeLimits { max_pixels: 5_000_000, max_decode_bytes: 1 << 20, ..DecodeLimits::default() };
    let tiny: &[u8] = &[0; 16];
    // Refused on their dimensions, before their (too short) data is looked at.
    assert_eq!(code(rgba_crop(tiny, 100_000, 100_000, &limits, &pre)), "too_many_pixels");
    let e = rgba_crop(tiny, 2000, 2000, &limits, &pre).unwrap_err();
    let needed = rgba_crop_cost(2000, 2000, &limits, &pre).unwrap();
    assert_eq!(e, Error::ImageTooLarge { width: 2000, height: 2000, needed_bytes: needed, budget_bytes: 1 << 20 });
    assert_eq!(code(rgba_crop(tiny, 0, 4, &limits, &pre)), "invalid_argument");
    assert_eq!(code(rgba_crop(tiny, 100, 100, &limits, &pre)), "invalid_argument");
    assert!(rgba_crop(tiny, 2, 2, &limits, &pre).is_ok());
}

#[test]
fn the_cost_is_about_the_crop_not_the_image() {
    // 36 MP: its RGB copy alone would be 108 MB.
    let cost = rgba_crop_cost(6000, 6000, &DecodeLimits::default(), &Preprocess::default()).unwrap();
    assert!(cost < 8 << 20, "{cost}");
}
