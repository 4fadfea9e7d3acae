//! The reader refuses anything that is not a torchvision DenseNet export,
//! naming the first node that does not fit, and never panics.

mod common;

use common::*;
use densenet_edge_engine::{Engine, Error};

fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "same length keeps every protobuf length valid");
    let mut out = bytes.to_vec();
    let mut i = 0;
    let mut hits = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
            hits += 1;
        } else {
            i += 1;
        }
    }
    assert!(hits > 0);
    out
}

fn model_invalid(bytes: &[u8]) -> String {
    match Engine::load(bytes) {
        Err(Error::ModelInvalid(m)) => m,
        Err(e) => panic!("expected ModelInvalid, got {e}"),
        Ok(_) => panic!("expected ModelInvalid, the model loaded"),
    }
}

#[test]
fn a_foreign_op_is_refused_naming_its_node() {
    let bytes = model_bytes();
    // Same-length renames keep the file well-formed; names change consistently.
    let m = model_invalid(&replace_all(&bytes, b"MaxPool", b"AvgPool"));
    assert!(m.contains("/features/pool0/AvgPool") && m.contains("expected MaxPool"), "{m}");
    let m = model_invalid(&replace_all(&bytes, b"Relu", b"Tanh"));
    assert!(m.contains("/features/relu0/Tanh") && m.contains("expected Relu"), "{m}");
    let m = model_invalid(&replace_all(&bytes, b"GlobalAveragePool", b"GlobalMaxPoolXXXX"));
    assert!(m.contains("GlobalMaxPoolXXXX"), "{m}");
}

#[test]
fn truncated_empty_and_foreign_files_are_refused() {
    let bytes = model_bytes();
    for cut in [1, 100, 5_000, bytes.len() / 2, bytes.len() - 1] {
        let m = model_invalid(&bytes[..cut]);
        assert!(!m.is_empty(), "cut at {cut}");
    }
    assert!(model_invalid(&bytes[..bytes.len() / 2]).contains("truncated"));
    assert!(model_invalid(b"").contains("no graph"));
    model_invalid(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    model_invalid(&[0xff; 64]);
    // Garbage after a valid prefix fails by the end at the latest.
    let mut l = Engine::loader();
    let mut junk = bytes[..20_000].to_vec();
    junk.extend(std::iter::repeat_n(0xffu8, 100));
    let failed = l.push(&junk).is_err();
    assert!(failed || matches!(l.finish(), Err(Error::ModelInvalid(_))));
    let mut l = Engine::loader();
    assert!(l.push(&[0xff; 16]).is_err(), "an 11-byte varint");
    assert!(l.push(&bytes).is_err(), "a failed loader stays failed");
}

/// The classifier's TensorProto head in the exported file: dims 1000 x 1024,
/// data_type FLOAT, then its name; raw_data follows.
const FC_HEAD: &[u8] = b"\x08\xe8\x07\x08\x80\x08\x10\x01B\x11classifier.weight";

#[test]
fn streamed_initializers_are_checked_like_buffered_ones() {
    // The classifier (4 MB) is over the loader's 1 MiB: it is read field by
    // field, its values packed as they arrive.
    let bytes = model_bytes();
    let m = model_invalid(&replace_all(&bytes, b"\x10\x01B\x11classifier.weight", b"\x10\x02B\x11classifier.weight"));
    assert!(m.contains("\"classifier.weight\" has data type 2"), "{m}");
    // 1000 x 1023: the values no longer fit the dims.
    let m = model_invalid(&replace_all(&bytes, &FC_HEAD[..6], b"\x08\xe8\x07\x08\xff\x07"));
    assert!(m.contains("holds 1024000 values, its dims [1000, 1023] say 1023000"), "{m}");
    let m = model_invalid(&bytes[..bytes.len() - 1_000_001]);
    assert!(m.contains("truncated"), "{m}");
}

#[test]
fn a_streamed_initializer_in_float_data_loads_the_same() {
    // The classifier's raw_data rewritten as packed float_data (field 4),
    // which protobuf's field order puts before the name: the same length, so
    // every enclosing length stays valid. Its values then arrive before its
    // role is known.
    let bytes = model_bytes();
    let at = bytes.windows(FC_HEAD.len()).position(|w| w == FC_HEAD).expect("the classifier in the file");
    let (dims_type, name) = (at + 8, at + FC_HEAD.len());
    assert_eq!(&bytes[name..name + 5], b"\x4a\x80\x80\xfa\x01", "raw_data of 4096000 bytes");
    let values = &bytes[name + 5..name + 5 + 4_096_000];
    let mut edited = bytes[..dims_type].to_vec();
    edited.extend_from_slice(b"\x22\x80\x80\xfa\x01");
    edited.extend_from_slice(values);
    edited.extend_from_slice(&bytes[dims_type..name]);
    edited.extend_from_slice(&bytes[name + 5 + 4_096_000..]);
    assert_eq!(edited.len(), bytes.len());

    let mut l = Engine::loader();
    for piece in edited.chunks(99_999) {
        l.push(piece).unwrap();
    }
    let input = photo_input("chelsea");
    let want = Engine::load(&bytes).unwrap().run(&input, 1).unwrap();
    assert_eq!(l.finish().unwrap().run(&input, 1).unwrap(), want);
}

#[test]
fn run_checks_its_arguments() {
    let engine = Engine::load(&model_bytes()).unwrap();
    assert!(matches!(engine.run(&[0.0; 10], 1), Err(Error::InvalidArgument(_))));
    assert!(matches!(engine.run(&[], 0), Err(Error::InvalidArgument(_))));
    let mut nan = vec![0f32; densenet_edge_engine::INPUT_LEN];
    nan[5] = f32::NAN;
    assert!(matches!(engine.run(&nan, 1), Err(Error::InvalidArgument(_))));
    let mut e = engine;
    assert!(matches!(e.set_threads(0), Err(Error::InvalidArgument(_))));
}

#[test]
fn value_shapes_cover_every_node_output() {
    let engine = Engine::load(&model_bytes()).unwrap();
    let s = engine.value_shapes(1);
    assert_eq!(s["input"], [1, 3, 224, 224]);
    assert_eq!(s["/features/conv0/Conv_output_0"], [1, 64, 112, 112]);
    assert_eq!(s["/features/pool0/MaxPool_output_0"], [1, 64, 56, 56]);
    assert_eq!(s["/features/denseblock1/denselayer6/Concat_output_0"], [1, 224, 56, 56]);
    assert_eq!(s["/features/denseblock1/denselayer6/conv1/Conv_output_0"], [1, 128, 56, 56]);
    assert_eq!(s["/features/denseblock1/Concat_output_0"], [1, 256, 56, 56]);
    assert_eq!(s["/features/transition1/pool/AveragePool_output_0"], [1, 128, 28, 28]);
    assert_eq!(s["/features/denseblock4/Concat_output_0"], [1, 1024, 7, 7]);
    assert_eq!(s["logits"], [1, 1000]);
    assert_eq!(engine.value_shapes(8)["logits"], [8, 1000]);
    // input + conv0, relu0, pool0 + 6 per dense layer + 1 per block + 4 per transition + 5 in the head.
    assert_eq!(s.len(), 1 + 3 + 6 * 58 + 4 + 4 * 3 + 5);
}

#[test]
fn one_engine_serves_concurrent_runs() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine>();
    let engine = Engine::load(&model_bytes()).unwrap();
    let input = photo_input("coffee");
    let want = engine.run(&input, 1).unwrap();
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..3).map(|_| s.spawn(|| engine.run(&input, 1).unwrap())).collect();
        for r in runs {
            assert_eq!(r.join().unwrap(), want);
        }
    });
}

#[test]
fn corrupted_bytes_give_errors_not_panics() {
    let bytes = model_bytes();
    let prefix = &bytes[..400_000]; // every node and the first initializers
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..300 {
        let mut m = prefix.to_vec();
        for _ in 0..1 + next() % 4 {
            let i = (next() % m.len() as u64) as usize;
            m[i] = next() as u8;
        }
        let r = std::panic::catch_unwind(|| {
            let mut l = Engine::loader();
            for piece in m.chunks(50_000) {
                if l.push(piece).is_err() {
                    return;
                }
            }
            assert!(l.finish().is_err(), "a 400 kB prefix cannot be a whole model");
        });
        assert!(r.is_ok(), "the reader panicked on corrupted input");
    }
}

#[test]
fn absurd_lengths_are_refused_before_allocating() {
    // ModelProto.graph (field 7) of 2^40 bytes, holding a node (field 1) of 2^39.
    let mut b = vec![7 << 3 | 2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
    b.extend([1 << 3 | 2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
    let mut l = Engine::loader();
    match l.push(&b) {
        Err(Error::ModelInvalid(m)) => assert!(m.contains("bytes"), "{m}"),
        other => panic!("expected ModelInvalid, got {:?}", other.err()),
    }
}
