//! An int8 model in QDQ form (onnxruntime's `quantize_static`): the float
//! graph with QuantizeLinear / DequantizeLinear pairs on its edges and
//! DequantizeLinear nodes on its integer weights. `strip` takes the pairs
//! out, giving the float graph the DenseNet walk (`topology`) knows, and
//! notes where each quantization was: per activation tensor its scale and
//! zero point, per weight its per-channel scale. Their values are
//! initializers, which arrive after the nodes: they are read at `finish`.

use std::collections::{HashMap, HashSet};

use super::proto::{Attr, Node};
use crate::error::{invalid, Result};

/// The initializer names of one quantization: scale and zero point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QNames {
    pub scale: String,
    pub zero: String,
}

/// What `strip` found.
#[derive(Debug, Default)]
pub struct QdqGraph {
    /// The float graph's nodes, Q/DQ taken out, a Relu put back where the
    /// quantizer folded one into a zero point.
    pub nodes: Vec<Node>,
    /// Float tensor (by its name in `nodes`) -> the quantization its
    /// consumers see.
    pub activations: HashMap<String, QNames>,
    /// Integer initializer (weight or bias) -> its dequantization.
    pub weights: HashMap<String, QNames>,
    /// Tensors of the Relus put back: their zero point must be 0, or the
    /// fold was not a Relu.
    pub folded_relus: Vec<String>,
}

fn describe(n: &Node, i: usize) -> String {
    format!("node {i} {:?} ({})", n.name, n.op)
}

fn is_qdq(n: &Node) -> bool {
    n.op == "QuantizeLinear" || n.op == "DequantizeLinear"
}

/// Whether a graph is in QDQ form.
pub fn is_qdq_graph(nodes: &[Node]) -> bool {
    nodes.iter().any(is_qdq)
}

fn qnames(n: &Node, i: usize) -> Result<QNames> {
    match (n.inputs.get(1), n.inputs.get(2)) {
        (Some(s), Some(z)) if !s.is_empty() && !z.is_empty() => Ok(QNames { scale: s.clone(), zero: z.clone() }),
        _ => invalid(format!("{}: a scale and a zero point are expected as inputs", describe(n, i))),
    }
}

/// Takes the Q/DQ nodes out of `nodes` (see the module's doc). Refuses, by
/// node, what onnxruntime's QDQ format with our options does not write: a
/// DQ whose input is not a Q of the same scale and zero point or an
/// initializer, a Q not followed by such a DQ, a DQ on an axis other than 0.
pub fn strip(nodes: &[Node]) -> Result<QdqGraph> {
    let produced: HashSet<&str> = nodes.iter().flat_map(|n| n.outputs.iter().map(String::as_str)).collect();
    // Q output -> (Q's input, its quantization).
    let mut quantized: HashMap<&str, (&str, QNames)> = HashMap::new();
    for (i, n) in nodes.iter().enumerate().filter(|(_, n)| n.op == "QuantizeLinear") {
        let (Some(x), Some(y)) = (n.inputs.first(), n.outputs.first()) else {
            return invalid(format!("{}: expected an input and an output", describe(n, i)));
        };
        quantized.insert(y, (x, qnames(n, i)?));
    }
    // DQ output -> the float tensor it stands for.
    let mut rename: HashMap<&str, &str> = HashMap::new();
    let mut g = QdqGraph::default();
    for (i, n) in nodes.iter().enumerate().filter(|(_, n)| n.op == "DequantizeLinear") {
        let (Some(x), Some(y)) = (n.inputs.first(), n.outputs.first()) else {
            return invalid(format!("{}: expected an input and an output", describe(n, i)));
        };
        let q = qnames(n, i)?;
        let axis = n.attrs.iter().find(|(k, _)| k == "axis").map(|(_, a)| a);
        if !matches!(axis, None | Some(Attr::Int(0))) {
            return invalid(format!("{}: a per-channel axis other than 0", describe(n, i)));
        }
        if !produced.contains(x.as_str()) {
            // An integer initializer: a weight or a bias.
            g.weights.insert(x.clone(), q);
            rename.insert(y, x);
            continue;
        }
        match quantized.get(x.as_str()) {
            Some((src, qq)) if *qq == q => {
                if let Some(old) = g.activations.insert(src.to_string(), q) {
                    if old != *qq {
                        return invalid(format!("{}: {src:?} is quantized twice, differently", describe(n, i)));
                    }
                }
                rename.insert(y, src);
            }
            Some(_) => {
                return invalid(format!(
                    "{}: dequantizes with another scale or zero point than its QuantizeLinear (a requantization)",
                    describe(n, i)
                ))
            }
            None => return invalid(format!("{}: its input {x:?} is not a QuantizeLinear's output", describe(n, i))),
        }
    }
    let used: HashSet<&str> =
        nodes.iter().filter(|n| n.op == "DequantizeLinear").map(|n| n.inputs[0].as_str()).collect();
    for (i, n) in nodes.iter().enumerate().filter(|(_, n)| n.op == "QuantizeLinear") {
        if !used.contains(n.outputs[0].as_str()) {
            return invalid(format!("{}: its output feeds no DequantizeLinear", describe(n, i)));
        }
    }
    let float: Vec<(usize, &Node)> = nodes.iter().enumerate().filter(|(_, n)| !is_qdq(n)).collect();
    // A Conv's quantized output read by a MaxPool or a Conv had its Relu
    // folded into the zero point (relu0, each relu2): put it back.
    let reads_relu: HashSet<&str> = float
        .iter()
        .filter(|(_, n)| n.op == "MaxPool" || n.op == "Conv")
        .filter_map(|(_, n)| n.inputs.first().map(String::as_str))
        .filter_map(|x| rename.get(x).copied())
        .collect();
    let mut relu_of: HashMap<String, String> = HashMap::new();
    for (i, node) in &float {
        let mut n = (*node).clone();
        for x in &mut n.inputs {
            if let Some(src) = rename.get(x.as_str()) {
                *x = relu_of.get(*src).cloned().unwrap_or_else(|| src.to_string());
            } else if quantized.contains_key(x.as_str()) {
                return invalid(format!(
                    "{}: reads a quantized tensor {x:?} without its DequantizeLinear",
                    describe(node, *i)
                ));
            }
        }
        let folded = n.op == "Conv" && n.outputs.first().is_some_and(|y| reads_relu.contains(y.as_str()));
        g.nodes.push(n.clone());
        if folded {
            let y = n.outputs[0].clone();
            let r = format!("{y}/relu");
            let Some(q) = g.activations.remove(&y) else {
                return invalid(format!("{}: its output is read as a Relu's but is not quantized", describe(&n, *i)));
            };
            g.activations.insert(r.clone(), q);
            g.nodes.push(Node {
                name: format!("{}/relu", n.name),
                op: "Relu".into(),
                domain: String::new(),
                inputs: vec![y.clone()],
                outputs: vec![r.clone()],
                attrs: Vec::new(),
            });
            g.folded_relus.push(r.clone());
            relu_of.insert(y, r);
        }
    }
    Ok(g)
}
