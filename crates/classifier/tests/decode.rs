mod common;

use common::image;
use densenet_edge::{decode, DecodeLimits, Error};

fn decoded(rel: &str) -> densenet_edge::RgbImage {
    decode(&image(rel), &DecodeLimits::default()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn code(rel: &str) -> &'static str {
    decode(&image(rel), &DecodeLimits::default()).map(|_| ()).expect_err(rel).code()
}

#[test]
fn every_supported_variant_decodes_to_rgb() {
    let dir = common::repo().join("tests/images/variants");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let img = decoded(&format!("variants/{name}"));
        assert!(img.width() > 0 && img.height() > 0, "{name}");
        n += 1;
    }
    assert!(n >= 19, "expected all variants, found {n}");
}

#[test]
fn photos_keep_their_size() {
    assert_eq!(decoded("photos/chelsea.png").dimensions(), (451, 300));
    assert_eq!(decoded("photos/rocket.jpg").dimensions(), (640, 427));
}

#[test]
fn exif_orientation_is_applied() {
    // Stored rotated by 90 degrees with EXIF Orientation=6: upright once
    // decoded, like the baseline it was made from.
    let bytes = image("variants/exif_rotate6.jpg");
    let stored = image::load_from_memory(&bytes).unwrap();
    let plain = decoded("variants/baseline.jpg");
    let rotated = decoded("variants/exif_rotate6.jpg");
    assert_eq!((stored.height(), stored.width()), plain.dimensions());
    assert_eq!(rotated.dimensions(), plain.dimensions());
    let mean_diff = rotated.as_raw().iter().zip(plain.as_raw()).map(|(a, b)| a.abs_diff(*b) as f64).sum::<f64>()
        / plain.as_raw().len() as f64;
    assert!(mean_diff < 3.0, "rotated image differs from the upright one by {mean_diff} on average");
}

#[test]
fn grey_and_alpha_become_rgb_like_pil() {
    // Grey is replicated into R, G and B.
    let grey = decoded("variants/grey8.png");
    assert!(grey.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]));
    let grey16 = decoded("variants/grey16.png");
    assert!(grey16.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]));
}

#[test]
fn the_format_comes_from_the_content() {
    // A JPEG is a JPEG whatever it is called; bytes carry no name anyway,
    // and a PNG signature in front of JPEG data is a corrupt PNG.
    let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
    fake.extend_from_slice(&image("variants/baseline.jpg"));
    assert_eq!(decode(&fake, &DecodeLimits::default()).unwrap_err().code(), "corrupt_image");
}

#[test]
fn bad_inputs_have_clear_error_codes() {
    assert_eq!(code("bad/empty.bin"), "empty_input");
    assert_eq!(code("bad/not_image.txt"), "not_an_image");
    assert_eq!(code("bad/unsupported.tiff"), "unsupported_format");
    assert_eq!(code("bad/truncated.jpg"), "corrupt_image");
    assert_eq!(code("bad/truncated.png"), "corrupt_image");
    assert_eq!(code("bad/corrupt.jpg"), "corrupt_image");
    assert_eq!(code("bad/bomb.png"), "too_many_pixels");
}

#[test]
fn limits_are_checked_before_decoding() {
    let bytes = image("photos/chelsea.png");
    let small = DecodeLimits { max_bytes: 1000, ..DecodeLimits::default() };
    assert!(matches!(decode(&bytes, &small), Err(Error::TooManyBytes { max_bytes: 1000, .. })));
    let few = DecodeLimits { max_pixels: 451 * 300 - 1, ..DecodeLimits::default() };
    assert!(matches!(decode(&bytes, &few), Err(Error::TooManyPixels { width: 451, height: 300, .. })));
    let exact = DecodeLimits { max_pixels: 451 * 300, ..DecodeLimits::default() };
    assert!(decode(&bytes, &exact).is_ok());
}

#[test]
fn a_bomb_is_refused_cheaply() {
    // The header claims 60000x60000: refused from the header alone, so this
    // allocates nothing like 10 GB and returns at once.
    let err = decode(&image("bad/bomb.png"), &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, Error::TooManyPixels { width: 60000, height: 60000, .. }), "{err}");
}
