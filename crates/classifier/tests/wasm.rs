//! The transform and the label mapping compiled to wasm32, run by
//! wasm-bindgen-test in Node and in headless Chromium
//! (scripts/test-wasm.sh), against the same PIL references as natively.
#![cfg(target_arch = "wasm32")]

use densenet_edge::{classify_logits, decode, DecodeLimits, Labels, Preprocess};
use densenet_edge_npy::parse_npy;
use wasm_bindgen_test::wasm_bindgen_test;

const CHELSEA: &[u8] = include_bytes!("../../../tests/images/photos/chelsea.png");
const CHELSEA_CROP: &[u8] = include_bytes!("../../../model/reference/photos_chelsea.crop.npy");
const ROCKET: &[u8] = include_bytes!("../../../tests/images/photos/rocket.jpg");
const ROCKET_CROP: &[u8] = include_bytes!("../../../model/reference/photos_rocket.crop.npy");
const CHELSEA_INPUT: &[u8] = include_bytes!("../../../model/reference/photos_chelsea.input.npy");
const NOT_IMAGE: &[u8] = include_bytes!("../../../tests/images/bad/not_image.txt");

fn max_u8_diff(image: &[u8], reference: &[u8]) -> u8 {
    let pre = Preprocess::default();
    let ours = pre.resize_crop(&decode(image, &DecodeLimits::default()).unwrap());
    let (shape, theirs) = parse_npy::<u8>(reference).unwrap();
    assert_eq!(shape, [224, 224, 3]);
    ours.as_raw().iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).max().unwrap()
}

#[wasm_bindgen_test]
fn png_transform_is_bit_exact_with_pil() {
    assert_eq!(max_u8_diff(CHELSEA, CHELSEA_CROP), 0);
}

#[wasm_bindgen_test]
fn jpeg_transform_is_within_one_level_of_pil() {
    assert!(max_u8_diff(ROCKET, ROCKET_CROP) <= 1);
}

#[wasm_bindgen_test]
fn normalised_tensor_matches_torchvision() {
    let img = decode(CHELSEA, &DecodeLimits::default()).unwrap();
    let ours = Preprocess::default().tensor(&[img]);
    let (_, theirs) = parse_npy::<f32>(CHELSEA_INPUT).unwrap();
    let diff = ours.data.iter().zip(&theirs).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff <= 1e-6, "{diff}");
}

#[wasm_bindgen_test]
fn bad_input_has_an_error_code() {
    assert_eq!(decode(NOT_IMAGE, &DecodeLimits::default()).unwrap_err().code(), "not_an_image");
    assert_eq!(decode(&[], &DecodeLimits::default()).unwrap_err().code(), "empty_input");
}

#[wasm_bindgen_test]
fn labels_map_like_the_tutorial() {
    let labels = Labels::imagenet();
    assert_eq!(labels.len(), 1000);
    assert_eq!(labels.get(285), Some(("n02124075", "Egyptian_cat")));
    let mut logits = vec![0.0f32; 1000];
    logits[285] = 9.0;
    let c = classify_logits(&logits, labels, 5, 0.2);
    assert_eq!((c.predictions[0].class_id.as_str(), c.recognized), ("n02124075", true));
}
