//! The whole pipeline on real bytes: good and bad images in one call.

mod common;

use common::{image, random_model, reference};
use densenet_edge::{classify_logits, Classifier, CpuEngine, Labels, Options};

fn classifier(max_batch: usize) -> Classifier {
    let engine = CpuEngine::load(&random_model()).unwrap();
    Classifier::new(Box::new(engine), Labels::imagenet().clone(), Options { max_batch, ..Options::default() }).unwrap()
}

#[test]
fn bad_images_fail_alone_and_good_ones_match_onnxruntime() {
    let c = classifier(2);
    let files =
        ["photos/chelsea.png", "bad/not_image.txt", "photos/coffee.png", "bad/empty.bin", "photos/astronaut.png"];
    let bytes: Vec<Vec<u8>> = files.iter().map(|f| image(f)).collect();
    let prepared = bytes.iter().map(|b| c.prepare(b)).collect();
    let batched = pollster::block_on(c.classify_in_batches(prepared, 5));
    // Good images 0, 2 | 4 share runs of at most 2; failed ones none.
    assert_eq!(batched.iter().map(|b| b.batch_size).collect::<Vec<_>>(), [2, 0, 2, 0, 1]);
    let answers: Vec<_> = batched.into_iter().map(|b| b.result).collect();
    assert_eq!(answers.len(), 5);
    assert_eq!(answers[1].as_ref().unwrap_err().code(), "not_an_image");
    assert_eq!(answers[3].as_ref().unwrap_err().code(), "empty_input");
    for (i, name) in [(0, "chelsea"), (2, "coffee"), (4, "astronaut")] {
        let got = answers[i].as_ref().unwrap();
        let logits = reference::<f32>(&format!("photos_{name}.logits.densenet121-random.npy")).1;
        let want = classify_logits(&logits, Labels::imagenet(), 5, Options::default().threshold);
        let got_ids: Vec<usize> = got.predictions.iter().map(|p| p.class_index).collect();
        let want_ids: Vec<usize> = want.predictions.iter().map(|p| p.class_index).collect();
        assert_eq!(got_ids, want_ids, "{name}");
        for (g, w) in got.predictions.iter().zip(&want.predictions) {
            assert!((g.probability - w.probability).abs() < 1e-4, "{name}");
        }
    }
}

#[test]
fn options_are_validated() {
    let engine = || Box::new(CpuEngine::load(&random_model()).unwrap());
    let zero_batch = Options { max_batch: 0, ..Options::default() };
    assert!(Classifier::new(engine(), Labels::imagenet().clone(), zero_batch).is_err());
}

#[test]
fn a_classifier_from_its_manifest_checks_the_bytes() {
    let json = std::fs::read_to_string(common::repo().join("model/manifests/densenet121-random.json")).unwrap();
    let manifest = densenet_edge::Manifest::from_json(&json).unwrap();
    let onnx = random_model();
    let choice = densenet_edge::EngineChoice::Cpu;
    let (classifier, reason) =
        pollster::block_on(Classifier::from_manifest(&onnx, &manifest, choice, Options::default())).unwrap();
    assert_eq!(classifier.options().preprocess, manifest.preprocess);
    assert!(!reason.is_empty());
    let answers = pollster::block_on(classifier.classify(&[&image("photos/chelsea.png")], 5));
    assert_eq!(answers[0].as_ref().unwrap().predictions.len(), 5);

    let mut other = onnx.clone();
    *other.last_mut().unwrap() ^= 1;
    let err =
        pollster::block_on(Classifier::from_manifest(&other, &manifest, choice, Options::default())).err().unwrap();
    assert_eq!(err.code(), "model_checksum_mismatch");
}

#[test]
fn a_model_fed_in_pieces_classifies_as_the_whole_file_does() {
    let json = std::fs::read_to_string(common::repo().join("model/manifests/densenet121-random.json")).unwrap();
    let manifest = densenet_edge::Manifest::from_json(&json).unwrap();
    let onnx = random_model();
    let streamed = |bytes: &[u8]| {
        let mut load =
            densenet_edge::StreamedLoad::new(&manifest, Options::default(), densenet_edge::LoadLimits::NONE).unwrap();
        for chunk in bytes.chunks(1 << 20) {
            load.push(chunk);
        }
        load.finish()
    };
    let choice = densenet_edge::EngineChoice::Cpu;
    let (whole, _) =
        pollster::block_on(Classifier::from_manifest(&onnx, &manifest, choice, Options::default())).unwrap();
    let pieces = streamed(&onnx).unwrap();
    let photo = image("photos/chelsea.png");
    let a = pollster::block_on(whole.classify(&[&photo], 5));
    let b = pollster::block_on(pieces.classify(&[&photo], 5));
    assert_eq!(a[0].as_ref().unwrap(), b[0].as_ref().unwrap());

    let mut other = onnx.clone();
    other[onnx.len() / 2] ^= 1;
    assert_eq!(streamed(&other).err().unwrap().code(), "model_checksum_mismatch");
    assert_eq!(streamed(b"not a model").err().unwrap().code(), "model_checksum_mismatch");
}
