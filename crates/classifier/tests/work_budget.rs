//! The CPU budget of decoding: the JPEG scan cap (`DecodeLimits::max_jpeg_scans`)
//! and a request's `WorkBudget`, on JPEGs made here byte by byte
//! (support/hostile_jpeg.rs) so that no big file is committed.

mod common;
#[path = "support/hostile_jpeg.rs"]
mod hostile_jpeg;

use densenet_edge::{
    decode, decode_crop, decode_crop_within, decode_work, Classifier, DecodeLimits, Engine, EngineKind, Error, Fault,
    Labels, LocalBoxFuture, Options, Preprocess, Tensor, WorkBudget,
};
use hostile_jpeg::Scans;

fn code<T>(r: &Result<T, Error>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// Scans of a JPEG written by an encoder (0xFFDA cannot occur in its
/// entropy-coded data: a 0xFF data byte is followed by 0x00).
fn count_scans(bytes: &[u8]) -> u32 {
    bytes.windows(2).filter(|w| w == &[0xFF, 0xDA]).count() as u32
}

#[test]
fn too_much_work_is_the_inputs_fault() {
    let e = Error::TooMuchWork("x".into());
    assert_eq!(e.code(), "too_much_work");
    assert_eq!(e.fault(), Fault::Input);
    assert_eq!(DecodeLimits::default().max_jpeg_scans, 500);
    assert_eq!(DecodeLimits::DEFAULT, DecodeLimits::default());
}

#[test]
fn a_jpeg_with_more_scans_than_the_cap_is_refused() {
    let limits = DecodeLimits::default();
    let pre = Preprocess::default();
    let at_cap = hostile_jpeg::empty_scans(64, 64, 500);
    assert_eq!(code(&decode_crop(&at_cap, &limits, &pre)), "ok");
    let over = hostile_jpeg::empty_scans(64, 64, 501);
    let err = decode_crop(&over, &limits, &pre).unwrap_err();
    assert_eq!(err.code(), "too_much_work");
    assert!(err.to_string().contains("more than 500 scans"), "{err}");
    // Refused from the header too: nothing is decoded to know it.
    assert_eq!(code(&decode_work(&over, &limits)), "too_much_work");
    assert_eq!(code(&decode(&over, &limits)), "too_much_work");
    // A baseline JPEG has one scan.
    let none = DecodeLimits { max_jpeg_scans: 0, ..limits };
    assert_eq!(code(&decode_crop(&common::image("photos/rocket.jpg"), &none, &pre)), "too_much_work");
    let one = DecodeLimits { max_jpeg_scans: 1, ..limits };
    assert_eq!(code(&decode_crop(&common::image("photos/rocket.jpg"), &one, &pre)), "ok");
    // A lower cap.
    let tight = DecodeLimits { max_jpeg_scans: 10, ..limits };
    assert_eq!(code(&decode_crop(&hostile_jpeg::empty_scans(64, 64, 11), &tight, &pre)), "too_much_work");
    assert_eq!(code(&decode_crop(&hostile_jpeg::empty_scans(64, 64, 10), &tight, &pre)), "ok");
}

#[test]
fn scans_are_counted_as_they_are_met() {
    // 600,000 empty scans, then the file is cut in the middle of a scan
    // header: a decoder that read every scan header first would call it
    // corrupt; one that stops at scan 501 never gets there.
    let mut b = hostile_jpeg::empty_scans(64, 64, 600_000);
    b.truncate(b.len() - 7);
    assert_eq!(code(&decode_crop(&b, &DecodeLimits::default(), &Preprocess::default())), "too_much_work");
    // Under the cap, the same cut is what it is.
    let mut b = hostile_jpeg::empty_scans(64, 64, 400);
    b.truncate(b.len() - 7);
    assert_eq!(code(&decode_crop(&b, &DecodeLimits::default(), &Preprocess::default())), "corrupt_image");
}

#[test]
fn a_real_progressive_jpeg_decodes_bit_exact_at_its_own_scan_count() {
    let pre = Preprocess::default();
    for name in ["land_420_q75_prog", "astro_cmyk_prog", "land_restart_prog"] {
        let bytes = common::image(&format!("jpeg/{name}.jpg"));
        let scans = count_scans(&bytes);
        assert!((6..=20).contains(&scans), "{name}: {scans} scans");
        let png = std::fs::read(common::repo().join(format!("model/reference/jpeg/{name}.png"))).unwrap();
        let want = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap().to_rgb8();
        let exact = DecodeLimits { max_jpeg_scans: scans, ..DecodeLimits::default() };
        let got = decode(&bytes, &exact).unwrap();
        assert!(got == want, "{name}: not PIL's pixels");
        let one_less = DecodeLimits { max_jpeg_scans: scans - 1, ..DecodeLimits::default() };
        assert_eq!(code(&decode_crop(&bytes, &one_less, &pre)), "too_much_work", "{name}");
        // Its work: its pixels, and its scans' block loops besides.
        let pixels = want.width() as u64 * want.height() as u64;
        let work = decode_work(&bytes, &DecodeLimits::default()).unwrap();
        assert!(work > pixels && work < 3 * pixels, "{name}: work {work} for {pixels} pixels");
    }
    // A baseline JPEG's work is its pixels.
    let rocket = common::image("photos/rocket.jpg");
    assert_eq!(decode_work(&rocket, &DecodeLimits::default()).unwrap(), 640 * 427);
}

#[test]
fn every_scan_of_a_multi_scan_jpeg_is_charged() {
    let limits = DecodeLimits::default();
    for kind in [Scans::AcFirstEobRuns, Scans::AcRefineEobRuns, Scans::DcRefine, Scans::Sequential] {
        let few = decode_work(&hostile_jpeg::many_scans(256, 256, 10, kind), &limits).unwrap();
        let many = decode_work(&hostile_jpeg::many_scans(256, 256, 100, kind), &limits).unwrap();
        let per_scan = (many - few) / 90;
        // At least one pixel per block of 64 pixels, more for refinement
        // (every coefficient of the band) and for sequential scans.
        assert!(per_scan >= 1024, "{kind:?}: {per_scan} per scan");
        println!("{kind:?}: {per_scan} pixels of work per scan of 256x256 ({few} for 10 scans)");
    }
    let refine = decode_work(&hostile_jpeg::many_scans(256, 256, 100, Scans::AcRefineEobRuns), &limits).unwrap();
    let first = decode_work(&hostile_jpeg::many_scans(256, 256, 100, Scans::AcFirstEobRuns), &limits).unwrap();
    assert!(refine > 2 * first, "refinement {refine}, first {first}");
    // And they decode: the scans are what a decoder accepts.
    let pre = Preprocess::default();
    for kind in
        [Scans::AcFirstEobRuns, Scans::AcRefineEobRuns, Scans::AcRefineNonzero, Scans::DcRefine, Scans::Sequential]
    {
        assert_eq!(code(&decode_crop(&hostile_jpeg::many_scans(64, 48, 20, kind), &limits, &pre)), "ok", "{kind:?}");
    }
}

#[test]
fn a_header_only_40mp_jpeg_is_grey_and_charged_its_pixels() {
    let limits = DecodeLimits::default();
    let pre = Preprocess::default();
    let bytes = hostile_jpeg::header_only(6000, 6600);
    assert!(bytes.len() < 400);
    // PIL's answer (tests/images/hostile/jpeg_header_only_6000x6600.jpg and
    // its reference): every block zero, mid grey.
    let crop = decode_crop(&bytes, &limits, &pre).unwrap();
    assert!(crop.as_raw().iter().all(|&v| v == 128));
    let reference = common::image("hostile/reference/jpeg_header_only_6000x6600.crop.npy");
    let (_, theirs) = densenet_edge_npy::parse_npy::<u8>(&reference).unwrap();
    assert!(theirs.iter().all(|&v| v == 128));
    assert_eq!(decode_work(&bytes, &limits).unwrap(), 6000 * 6600);
    // Rotated by its EXIF orientation: the same grey, through the
    // transposing resize.
    let small = decode(&hostile_jpeg::with_orientation(&hostile_jpeg::header_only(64, 32), 6), &limits).unwrap();
    assert_eq!(small.dimensions(), (32, 64));
    let rotated = decode_crop(&hostile_jpeg::with_orientation(&bytes, 6), &limits, &pre).unwrap();
    assert!(rotated.as_raw().iter().all(|&v| v == 128));
    // One fits a 64 MP budget, a second does not.
    let mut budget = WorkBudget::new(64_000_000);
    assert_eq!(code(&decode_crop_within(&bytes, &limits, &pre, &mut budget)), "ok");
    assert_eq!(code(&decode_crop_within(&bytes, &limits, &pre, &mut budget)), "too_much_work");
    assert_eq!(budget.used(), 39_600_000);
}

#[test]
fn a_request_budget_takes_each_image_until_one_does_not_fit() {
    let limits = DecodeLimits::default();
    let pre = Preprocess::default();
    // 16 MP headers: four use 64 MP exactly, the fifth is refused.
    let sixteen = hostile_jpeg::header_only(4000, 4000);
    let mut budget = WorkBudget::new(64_000_000);
    for i in 0..4 {
        assert_eq!(code(&decode_crop_within(&sixteen, &limits, &pre, &mut budget)), "ok", "image {i}");
    }
    assert_eq!((budget.used(), budget.left()), (64_000_000, 0));
    let err = decode_crop_within(&sixteen, &limits, &pre, &mut budget).unwrap_err();
    assert_eq!(err.code(), "too_much_work");
    let msg = err.to_string();
    assert!(msg.contains("4000x4000") && msg.contains("needs 16000000") && msg.contains("budget of 64000000"), "{msg}");
    assert_eq!(budget.used(), 64_000_000);

    // 12 MP phone-photo headers (4032x3024, 12.19 MP): five fit in 64 MP,
    // the sixth does not; a refused one takes nothing, so a smaller image
    // after it still fits.
    let phone = hostile_jpeg::header_only(4032, 3024);
    let mut budget = WorkBudget::new(64_000_000);
    for i in 0..5 {
        assert_eq!(code(&decode_crop_within(&phone, &limits, &pre, &mut budget)), "ok", "image {i}");
    }
    let before = budget.clone();
    assert_eq!(code(&decode_crop_within(&phone, &limits, &pre, &mut budget)), "too_much_work");
    assert_eq!(budget, before);
    let rocket = common::image("photos/rocket.jpg");
    assert_eq!(code(&decode_crop_within(&rocket, &limits, &pre, &mut budget)), "ok");
    assert_eq!(budget.used(), 5 * 4032 * 3024 + 640 * 427);
}

#[test]
fn an_image_refused_before_its_work_is_known_takes_nothing() {
    let limits = DecodeLimits { max_pixels: 1_000_000, ..DecodeLimits::default() };
    let pre = Preprocess::default();
    let mut budget = WorkBudget::new(2_000_000);
    for (bytes, expected) in [
        (b"not an image".to_vec(), "not_an_image"),
        (hostile_jpeg::header_only(2000, 2000), "too_many_pixels"),
        (hostile_jpeg::empty_scans(64, 64, 501), "too_much_work"),
        (Vec::new(), "empty_input"),
    ] {
        assert_eq!(code(&decode_crop_within(&bytes, &limits, &pre, &mut budget)), expected);
        assert_eq!(budget.used(), 0, "{expected}");
    }
    // The memory limit is checked before the work is charged.
    let small_memory = DecodeLimits { max_decode_bytes: 1 << 20, ..DecodeLimits::default() };
    let prog = hostile_jpeg::empty_scans(800, 800, 3);
    assert_eq!(code(&decode_crop_within(&prog, &small_memory, &pre, &mut budget)), "image_too_large");
    assert_eq!(budget.used(), 0);
}

/// An engine that is never run: prepare_within needs a Classifier.
struct NoEngine;

impl Engine for NoEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Cpu
    }
    fn device(&self) -> String {
        "none".into()
    }
    fn run<'a>(&'a self, _input: &'a Tensor) -> LocalBoxFuture<'a, densenet_edge::Result<Vec<Vec<f32>>>> {
        Box::pin(async { Err(Error::Inference("not an engine".into())) })
    }
}

#[test]
fn the_classifier_prepares_within_a_budget() {
    let c = Classifier::new(Box::new(NoEngine), Labels::imagenet().clone(), Options::default()).unwrap();
    let rocket = common::image("photos/rocket.jpg");
    let mut budget = WorkBudget::new(640 * 427 * 2);
    let a = c.prepare_within(&rocket, &mut budget).unwrap();
    assert_eq!(a, c.prepare(&rocket).unwrap());
    c.prepare_within(&rocket, &mut budget).unwrap();
    assert_eq!(c.prepare_within(&rocket, &mut budget).unwrap_err().code(), "too_much_work");
    assert_eq!(budget.left(), 0);

    // RGBA pixels are charged their pixels too.
    let rgba = vec![200u8; 300 * 200 * 4];
    let mut budget = WorkBudget::new(100_000);
    c.prepare_rgba_within(rgba.as_slice(), 300, 200, &mut budget).unwrap();
    assert_eq!(budget.used(), 60_000);
    let e = c.prepare_rgba_within(rgba.as_slice(), 300, 200, &mut budget).unwrap_err();
    assert_eq!(e.code(), "too_much_work");
    assert_eq!(budget.used(), 60_000);
    // A wrong length is an invalid argument, not charged.
    assert_eq!(c.prepare_rgba_within(&rgba[1..], 300, 200, &mut budget).unwrap_err().code(), "invalid_argument");
    assert_eq!(budget.used(), 60_000);
    // Unlimited: counted, never refused.
    let mut budget = WorkBudget::unlimited();
    for _ in 0..3 {
        c.prepare_rgba_within(rgba.as_slice(), 300, 200, &mut budget).unwrap();
    }
    assert_eq!((budget.used(), budget.left()), (180_000, u64::MAX));
}
