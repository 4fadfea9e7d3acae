//! The `densenet-edge` binary as a user runs it: arguments, exit codes,
//! JSON Lines checked against the documented answer schema.

mod schema;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("../..")
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_densenet-edge"))
        .args(args)
        .current_dir(repo())
        .env_remove("DENSENET_EDGE_MODEL")
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_command_has_help() {
    for command in ["classify", "preprocess", "bench", "parity"] {
        let o = cli(&[command, "--help"]);
        assert_eq!(o.status.code(), Some(0), "{command} --help: {}", stderr(&o));
        assert!(stdout(&o).contains("--model") || command == "preprocess", "{command}: {}", stdout(&o));
    }
    let o = cli(&["--help"]);
    assert!(stdout(&o).contains("Exit codes"), "{}", stdout(&o));
}

#[test]
fn bad_usage_exits_2_with_a_message() {
    for args in [
        &["classify"][..],
        &["classify", "--top-k", "0", "x.png"],
        &["classify", "--top-k=1001", "x.png"],
        &["classify", "--engine", "tpu", "x.png"],
        &["classify", "--no-such-flag", "x.png"],
        &["frobnicate"],
    ] {
        let o = cli(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error"), "{args:?}: {}", stderr(&o));
    }
    let o = cli(&["classify", "docs"]);
    assert_eq!(o.status.code(), Some(2), "a directory without images: {}", stderr(&o));
}

#[test]
fn json_lines_follow_the_schema_and_bad_images_fail_alone() {
    let schema = schema::Schema::load();
    let o = cli(&["classify", "--json", "--top-k=3", "tests/images/photos", "tests/images/bad/not_image.txt"]);
    assert_eq!(o.status.code(), Some(1), "one input is not an image: {}", stderr(&o));
    let lines: Vec<Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    let files: Vec<&str> = lines.iter().map(|l| l["file"].as_str().unwrap()).collect();
    assert_eq!(
        files,
        [
            "tests/images/photos/astronaut.png",
            "tests/images/photos/chelsea.png",
            "tests/images/photos/coffee.png",
            "tests/images/photos/rocket.jpg",
            "tests/images/bad/not_image.txt"
        ]
    );
    for line in &lines {
        let errors = schema.check("ClassifyLine", line);
        assert!(errors.is_empty(), "{line}: {errors:?}");
    }
    for line in &lines[..4] {
        assert_eq!(line["predictions"].as_array().unwrap().len(), 3);
        assert_eq!(line["class_id"], line["predictions"][0]["class_id"]);
        assert_eq!(line["model"]["weights"], "random");
        assert_eq!(line["model"]["precision"], "f32");
        assert_eq!(line["engine"], "cpu");
    }
    assert_eq!(lines[4]["error"]["code"], "not_an_image");
}

/// `parity` on the int8 twin prints its drift and onnxruntime int8's.
#[test]
fn parity_prints_an_int8_models_drift() {
    let o = cli(&["parity", "--engine", "cpu", "--model", "model/build/densenet121-random-int8.onnx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let ratio = |who: &str| -> f64 {
        let line = out.lines().find(|l| l.trim_start().starts_with(who)).unwrap_or_else(|| panic!("{out}"));
        line.split("drift ratio ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap()
    };
    let (ours, theirs) = (ratio("ours"), ratio("onnxruntime drift"));
    assert!(ours > 0.0 && ours <= 0.2 && theirs > 0.0, "{out}");
    assert!(out.contains("f32's top-1 inside int8's top-5 8/8"), "{out}");
}

/// The int8 twin prepare-model makes (its manifest beside it): the answer
/// says int8, and WebGPU, which runs f32 models only, refuses it.
#[test]
fn an_int8_model_answers_as_int8_and_webgpu_refuses_it() {
    let schema = schema::Schema::load();
    let model = "model/build/densenet121-random-int8.onnx";
    let o = cli(&["classify", "--json", "--model", model, "tests/images/photos/chelsea.png"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line: Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert!(schema.check("ClassifyLine", &line).is_empty(), "{line}");
    assert_eq!(line["model"]["precision"], "int8");
    assert_eq!(line["model"]["name"], "densenet121-random-int8");
    assert!(line["device"].as_str().unwrap().contains("int8"), "{line}");
    let o = cli(&["classify", "--engine", "webgpu", "--model", model, "tests/images/photos/chelsea.png"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("wonnx runs f32 models"), "{}", stderr(&o));
}

/// The checker itself: a line in the documented shape passes, and each
/// kind of mistake in it is reported.
#[test]
fn the_schema_check_fails_a_wrong_line() {
    let schema = schema::Schema::load();
    let good = serde_json::json!({
        "file": "cat.png",
        "engine": "cpu",
        "device": "x86-64",
        "model": { "name": "densenet121", "weights": "random", "pretrained": false, "sha256": "00", "bytes": 1, "precision": "f32" },
        "timings_ms": { "preprocess": 1.0, "inference": 2.0 },
        "class_id": "n02124075",
        "class_name": "Egyptian_cat",
        "class_index": 285,
        "probability": 0.5,
        "recognized": true,
        "predictions": [{ "class_index": 285, "class_id": "n02124075", "class_name": "Egyptian_cat", "probability": 0.5 }]
    });
    assert_eq!(schema.check("ClassifyLine", &good), Vec::<String>::new());
    type Break = fn(&mut Value);
    let wrong: [(&str, Break); 5] = [
        ("probability over 1", |v| v["predictions"][0]["probability"] = 1.5.into()),
        ("a field the schema does not know", |v| v["model"]["extra"] = true.into()),
        ("a required field missing", |v| drop(v.as_object_mut().unwrap().remove("timings_ms"))),
        ("a string for an integer", |v| v["class_index"] = "285".into()),
        ("both an answer and an error", |v| v["error"] = serde_json::json!({ "code": "x", "message": "y" })),
    ];
    for (what, break_it) in wrong {
        let mut line = good.clone();
        break_it(&mut line);
        assert!(!schema.check("ClassifyLine", &line).is_empty(), "{what}: passed");
    }
}

/// The hostile files (tests/images/hostile/README.md) through the binary,
/// with its default limits: each gets the table's `default` answer, in the
/// documented line shape, and none takes the process down.
#[test]
fn hostile_images_get_their_documented_answers() {
    let schema = schema::Schema::load();
    let table = std::fs::read_to_string(repo().join("tests/images/hostile/README.md")).unwrap();
    let expected: Vec<(String, String)> = table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(|c| c.trim().trim_matches('`')).collect();
            (cells[1].to_string(), cells[4].to_string())
        })
        .collect();
    assert!(expected.len() >= 20, "the table lists the hostile files");
    let files: Vec<String> = expected.iter().map(|(f, _)| format!("tests/images/hostile/{f}")).collect();
    let mut args = vec!["classify", "--json"];
    args.extend(files.iter().map(String::as_str));
    let o = cli(&args);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let lines: Vec<Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    assert_eq!(lines.len(), expected.len(), "{}", stderr(&o));
    for (line, (file, want)) in lines.iter().zip(&expected) {
        let errors = schema.check("ClassifyLine", line);
        assert!(errors.is_empty(), "{line}: {errors:?}");
        let got = line["error"]["code"].as_str().unwrap_or("ok");
        assert_eq!(got, want, "{file}: {line}");
    }
}

#[test]
fn text_output_and_a_missing_file() {
    let o = cli(&["classify", "tests/images/photos/chelsea.png", "no/such/file.png"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("tests/images/photos/chelsea.png: "), "{out}");
    assert!(out.contains("no/such/file.png: error unreadable_file"), "{out}");
    assert!(stderr(&o).contains("RANDOM weights"), "the random model is announced: {}", stderr(&o));
}

#[test]
fn a_missing_model_exits_4_and_a_wrong_model_3() {
    let o = cli(&["classify", "--model", "no/such/model.onnx", "tests/images/photos/chelsea.png"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let o = cli(&["classify", "--model", "tests/images/bad/not_image.txt", "tests/images/photos/chelsea.png"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("model"), "{}", stderr(&o));
}

#[test]
fn a_hostile_model_file_exits_3_not_a_panic() {
    // A graph of 11 bytes holding a node whose length varint is 2^64 - 11:
    // the engine's loader once wrapped the sum and panicked (exit 101).
    let path = std::env::temp_dir().join(format!("densenet-edge-cli-hostile-{}.onnx", std::process::id()));
    std::fs::write(&path, [0x3A, 0x0B, 0x0A, 0xF5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]).unwrap();
    let o = cli(&["classify", "--model", path.to_str().unwrap(), "tests/images/photos/chelsea.png"]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("model_invalid") || stderr(&o).contains("model"), "{}", stderr(&o));
}
