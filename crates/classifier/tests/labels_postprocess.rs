use densenet_edge::{classify_logits, softmax, top_k, Labels};

#[test]
fn imagenet_labels_are_the_tutorials() {
    let labels = Labels::imagenet();
    assert_eq!(labels.len(), 1000);
    assert_eq!(labels.get(285), Some(("n02124075", "Egyptian_cat")));
    assert_eq!(labels.get(0), Some(("n01440764", "tench")));
    assert_eq!(labels.get(999), Some(("n15075141", "toilet_tissue")));
    assert_eq!(labels.get(1000), None);
    for i in 0..1000 {
        let (id, name) = labels.get(i).unwrap();
        assert!(id.starts_with('n') && id.len() == 9, "{i}: {id}");
        assert!(!name.is_empty() && !name.contains(' '), "{i}: {name}");
    }
}

#[test]
fn class_index_json_is_validated() {
    assert!(Labels::from_json(r#"{"0": ["n1", "a"], "1": ["n2", "b"]}"#).is_ok());
    assert!(Labels::from_json(r#"{"0": ["n1", "a"], "2": ["n2", "b"]}"#).is_err());
    assert!(Labels::from_json(r#"{"x": ["n1", "a"]}"#).is_err());
    assert!(Labels::from_json("[]").is_err());
}

#[test]
fn softmax_is_stable_and_sums_to_one() {
    let p = softmax(&[1000.0, 1000.0, -1000.0]);
    assert!((p[0] - 0.5).abs() < 1e-6 && (p[1] - 0.5).abs() < 1e-6 && p[2] == 0.0);
    let p = softmax(&[1.0, 2.0, 3.0]);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert!((p[2] - 0.665_240_9).abs() < 1e-6);
}

#[test]
fn top_k_orders_by_value_then_index() {
    assert_eq!(top_k(&[0.1, 0.5, 0.2, 0.5, 0.0], 3), vec![1, 3, 2]);
    assert_eq!(top_k(&[0.1, 0.2], 5), vec![1, 0]);
}

#[test]
fn recognized_follows_the_threshold() {
    let labels = Labels::imagenet();
    let mut logits = vec![0.0f32; 1000];
    logits[285] = 10.0;
    let c = classify_logits(&logits, labels, 5, 0.2);
    assert!(c.recognized);
    assert_eq!(c.predictions.len(), 5);
    assert_eq!(c.predictions[0].class_id, "n02124075");
    assert_eq!(c.predictions[0].class_name, "Egyptian_cat");
    // Flat logits: every class at 0.001, nothing recognised.
    let c = classify_logits(&[0.0; 1000], labels, 3, 0.2);
    assert!(!c.recognized);
    assert!((c.predictions[0].probability - 0.001).abs() < 1e-6);
    // The threshold is inclusive.
    let mut two = vec![f32::NEG_INFINITY; 1000];
    two[1] = 0.0;
    two[2] = 0.0;
    assert!(classify_logits(&two, labels, 1, 0.5).recognized);
    assert!(!classify_logits(&two, labels, 1, 0.51).recognized);
}
