//! Checks, node by node, that a graph is a torchvision DenseNet export and
//! names the role of every initializer. No generic graph interpretation: the
//! walk below is the DenseNet structure, and the first node that departs from
//! it is named in the error.

use super::proto::{Attr, Node};
use crate::error::{invalid, Result};

/// BatchNormalization inputs: scale, bias, mean, var (initializer names) and epsilon.
#[derive(Debug, Clone)]
pub struct Bn {
    pub params: [String; 4],
    pub eps: f32,
}

#[derive(Debug, Clone)]
pub struct Layer {
    pub bn1: Bn,
    pub conv1_w: String,
    pub conv1_b: String,
    pub conv2_w: String,
    /// Outputs of Concat, norm1, relu1, conv1, relu2, conv2.
    pub outs: [String; 6],
}

#[derive(Debug, Clone)]
pub struct Block {
    pub layers: Vec<Layer>,
    /// The block's final Concat output.
    pub out: String,
}

#[derive(Debug, Clone)]
pub struct Transition {
    pub bn: Bn,
    pub conv_w: String,
    /// Outputs of norm, relu, conv, pool.
    pub outs: [String; 4],
}

#[derive(Debug, Clone)]
pub struct Topology {
    pub input: String,
    pub output: String,
    pub conv0_w: String,
    pub conv0_b: String,
    /// Outputs of conv0, relu0, pool0.
    pub stem_outs: [String; 3],
    pub blocks: Vec<Block>,
    pub transitions: Vec<Transition>,
    pub norm5: Bn,
    pub fc_w: String,
    pub fc_b: String,
    /// Outputs of norm5, relu, GlobalAveragePool, Flatten (the Gemm's is `output`).
    pub head_outs: [String; 4],
}

/// What an initializer is for; the engine packs it as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Conv0W,
    Conv0B,
    /// Block, layer, which BN parameter (0 scale, 1 bias, 2 mean, 3 var).
    Norm1(usize, usize, usize),
    Conv1W(usize, usize),
    Conv1B(usize, usize),
    Conv2W(usize, usize),
    TransNorm(usize, usize),
    TransW(usize),
    Norm5(usize),
    FcW,
    FcB,
}

impl Role {
    /// A conv's or the classifier's weight matrix, which the loader packs
    /// into the kernel's layout (the rest are kept as plain floats).
    pub fn is_weight(self) -> bool {
        matches!(self, Role::Conv0W | Role::Conv1W(..) | Role::Conv2W(..) | Role::TransW(_) | Role::FcW)
    }
}

impl Topology {
    pub fn roles(&self) -> Vec<(String, Role)> {
        let mut r = vec![(self.conv0_w.clone(), Role::Conv0W), (self.conv0_b.clone(), Role::Conv0B)];
        for (b, block) in self.blocks.iter().enumerate() {
            for (l, layer) in block.layers.iter().enumerate() {
                for (p, name) in layer.bn1.params.iter().enumerate() {
                    r.push((name.clone(), Role::Norm1(b, l, p)));
                }
                r.push((layer.conv1_w.clone(), Role::Conv1W(b, l)));
                r.push((layer.conv1_b.clone(), Role::Conv1B(b, l)));
                r.push((layer.conv2_w.clone(), Role::Conv2W(b, l)));
            }
        }
        for (t, tr) in self.transitions.iter().enumerate() {
            for (p, name) in tr.bn.params.iter().enumerate() {
                r.push((name.clone(), Role::TransNorm(t, p)));
            }
            r.push((tr.conv_w.clone(), Role::TransW(t)));
        }
        for (p, name) in self.norm5.params.iter().enumerate() {
            r.push((name.clone(), Role::Norm5(p)));
        }
        r.push((self.fc_w.clone(), Role::FcW));
        r.push((self.fc_b.clone(), Role::FcB));
        r
    }
}

struct Walk<'a> {
    nodes: &'a [Node],
    i: usize,
}

fn describe(n: &Node, i: usize) -> String {
    format!("node {i} {:?} ({})", n.name, n.op)
}

fn ints(n: &Node, name: &str) -> Option<Vec<i64>> {
    match n.attr(name) {
        Some(Attr::Ints(v)) => Some(v.clone()),
        _ => None,
    }
}

fn int_or(n: &Node, name: &str, default: i64) -> Option<i64> {
    match n.attr(name) {
        None => Some(default),
        Some(Attr::Int(v)) => Some(*v),
        _ => None,
    }
}

fn float_or(n: &Node, name: &str, default: f32) -> Option<f32> {
    match n.attr(name) {
        None => Some(default),
        Some(Attr::Float(v)) => Some(*v),
        _ => None,
    }
}

impl<'a> Walk<'a> {
    fn peek(&self) -> Option<&'a Node> {
        self.nodes.get(self.i)
    }

    /// The next node, which must be `op` reading `input` as its first input.
    fn take(&mut self, op: &str, input: &str, n_inputs: &[usize], what: &str) -> Result<&'a Node> {
        let Some(n) = self.nodes.get(self.i) else {
            let last = self.nodes.last().map(|n| describe(n, self.nodes.len() - 1)).unwrap_or_default();
            return invalid(format!("graph ends after {last}; expected {op} ({what})"));
        };
        let at = describe(n, self.i);
        if n.op != op {
            return invalid(format!("{at}: expected {op} ({what})"));
        }
        if !(n.domain.is_empty() || n.domain == "ai.onnx") {
            return invalid(format!("{at}: domain {:?}, expected the default ONNX domain", n.domain));
        }
        if !n_inputs.contains(&n.inputs.len()) {
            return invalid(format!("{at}: {} inputs, expected {n_inputs:?} ({what})", n.inputs.len()));
        }
        if n.inputs[0] != input {
            return invalid(format!("{at}: reads {:?}, expected {input:?} ({what})", n.inputs[0]));
        }
        if n.outputs.len() != 1 {
            return invalid(format!("{at}: {} outputs, expected 1", n.outputs.len()));
        }
        self.i += 1;
        Ok(n)
    }

    fn bad(&self, n: &Node, msg: &str) -> crate::error::Error {
        crate::error::Error::ModelInvalid(format!("{}: {msg}", describe(n, self.i - 1)))
    }

    fn conv(&mut self, input: &str, k: i64, stride: i64, pad: i64, bias: bool, what: &str) -> Result<&'a Node> {
        let n = self.take("Conv", input, &[if bias { 3 } else { 2 }], what)?;
        let ok = ints(n, "kernel_shape").is_none_or(|v| v == [k, k])
            && ints(n, "strides").unwrap_or(vec![1, 1]) == [stride, stride]
            && ints(n, "pads").unwrap_or(vec![0; 4]) == [pad; 4]
            && ints(n, "dilations").unwrap_or(vec![1, 1]) == [1, 1]
            && int_or(n, "group", 1) == Some(1)
            && n.attr("auto_pad").is_none();
        if !ok {
            return Err(
                self.bad(n, &format!("expected a {k}x{k} convolution, stride {stride}, padding {pad} ({what})"))
            );
        }
        Ok(n)
    }

    fn bn(&mut self, input: &str, what: &str) -> Result<(Bn, &'a Node)> {
        let n = self.take("BatchNormalization", input, &[5], what)?;
        let eps = float_or(n, "epsilon", 1e-5);
        let training = int_or(n, "training_mode", 0);
        match (eps, training) {
            (Some(eps), Some(0)) if eps >= 0.0 => {
                let p = &n.inputs;
                Ok((Bn { params: [p[1].clone(), p[2].clone(), p[3].clone(), p[4].clone()], eps }, n))
            }
            _ => Err(self.bad(n, "expected inference-mode BatchNormalization with a float epsilon")),
        }
    }

    fn relu(&mut self, input: &str, what: &str) -> Result<&'a Node> {
        self.take("Relu", input, &[1], what)
    }

    fn is_next(&self, op: &str) -> bool {
        self.peek().is_some_and(|n| n.op == op)
    }
}

/// Walks the nodes in file order (ONNX requires them topologically sorted;
/// torch writes them in execution order).
pub fn check(nodes: &[Node]) -> Result<Topology> {
    let mut w = Walk { nodes, i: 0 };
    let first = w.peek().ok_or_else(|| crate::error::Error::ModelInvalid("the graph has no nodes".into()))?;
    let input = first.inputs.first().cloned().unwrap_or_default();
    let conv0 = w.conv(&input, 7, 2, 3, true, "the stem conv0, norm0 folded in")?;
    let relu0 = w.relu(&conv0.outputs[0], "relu0")?;
    let pool0 = w.take("MaxPool", &relu0.outputs[0], &[1], "pool0")?;
    if !(ints(pool0, "kernel_shape") == Some(vec![3, 3])
        && ints(pool0, "strides") == Some(vec![2, 2])
        && ints(pool0, "pads").unwrap_or(vec![0; 4]) == [1; 4]
        && int_or(pool0, "ceil_mode", 0) == Some(0)
        && ints(pool0, "dilations").unwrap_or(vec![1, 1]) == [1, 1])
    {
        return Err(w.bad(pool0, "expected a 3x3 max pool, stride 2, padding 1"));
    }
    let stem_outs = [conv0.outputs[0].clone(), relu0.outputs[0].clone(), pool0.outputs[0].clone()];
    let mut x = pool0.outputs[0].clone();
    let mut blocks = Vec::new();
    let mut transitions = Vec::new();
    loop {
        let mut feats = vec![x.clone()];
        let mut layers: Vec<Layer> = Vec::new();
        let b = blocks.len() + 1;
        // Every layer and the block's end start alike: Concat -> BN -> Relu.
        let (cat, bn, relu) = loop {
            let what = format!("denseblock{b} concat of {} features", feats.len());
            let cat = w.take("Concat", &feats[0], &[feats.len()], &what)?;
            if cat.inputs != feats || int_or(cat, "axis", 0) != Some(1) {
                return Err(w.bad(cat, &format!("expected {what} on axis 1: {feats:?}")));
            }
            let (bn, bn_node) = w.bn(&cat.outputs[0], "a norm1 or a block's norm")?;
            let relu = w.relu(&bn_node.outputs[0], "after BatchNormalization")?;
            // A dense layer's conv1 has a bias (norm2 folded in) and is followed by Relu, Conv3x3.
            let layer_follows = w.peek().is_some_and(|n| n.op == "Conv" && n.inputs.len() == 3);
            if !layer_follows {
                break (cat, bn, relu);
            }
            let l = layers.len() + 1;
            let conv1 = w.conv(&relu.outputs[0], 1, 1, 0, true, &format!("denseblock{b} layer{l} conv1"))?;
            let relu2 = w.relu(&conv1.outputs[0], "relu2")?;
            let conv2 = w.conv(&relu2.outputs[0], 3, 1, 1, false, &format!("denseblock{b} layer{l} conv2"))?;
            layers.push(Layer {
                bn1: bn,
                conv1_w: conv1.inputs[1].clone(),
                conv1_b: conv1.inputs[2].clone(),
                conv2_w: conv2.inputs[1].clone(),
                outs: [
                    cat.outputs[0].clone(),
                    bn_node.outputs[0].clone(),
                    relu.outputs[0].clone(),
                    conv1.outputs[0].clone(),
                    relu2.outputs[0].clone(),
                    conv2.outputs[0].clone(),
                ],
            });
            feats.push(conv2.outputs[0].clone());
        };
        if layers.is_empty() {
            return Err(crate::error::Error::ModelInvalid(format!(
                "{}: expected a dense layer (Concat, BN, Relu, Conv1x1 with bias, Relu, Conv3x3)",
                describe(cat, w.i - 3)
            )));
        }
        blocks.push(Block { layers, out: cat.outputs[0].clone() });
        let bn_out = &w.nodes[w.i - 2].outputs[0];
        if w.is_next("Conv") {
            let t = transitions.len() + 1;
            let conv = w.conv(&relu.outputs[0], 1, 1, 0, false, &format!("transition{t} conv"))?;
            let pool = w.take("AveragePool", &conv.outputs[0], &[1], &format!("transition{t} pool"))?;
            if !(ints(pool, "kernel_shape") == Some(vec![2, 2])
                && ints(pool, "strides") == Some(vec![2, 2])
                && ints(pool, "pads").unwrap_or(vec![0; 4]) == [0; 4]
                && int_or(pool, "ceil_mode", 0) == Some(0))
            {
                return Err(w.bad(pool, "expected a 2x2 average pool, stride 2, no padding"));
            }
            transitions.push(Transition {
                bn,
                conv_w: conv.inputs[1].clone(),
                outs: [bn_out.clone(), relu.outputs[0].clone(), conv.outputs[0].clone(), pool.outputs[0].clone()],
            });
            x = pool.outputs[0].clone();
            continue;
        }
        let gap = w.take("GlobalAveragePool", &relu.outputs[0], &[1], "a transition conv or the head's global pool")?;
        let flat = w.take("Flatten", &gap.outputs[0], &[1], "flatten")?;
        if int_or(flat, "axis", 1) != Some(1) {
            return Err(w.bad(flat, "expected Flatten on axis 1"));
        }
        let gemm = w.take("Gemm", &flat.outputs[0], &[3], "the classifier")?;
        if !(float_or(gemm, "alpha", 1.0) == Some(1.0)
            && float_or(gemm, "beta", 1.0) == Some(1.0)
            && int_or(gemm, "transA", 0) == Some(0)
            && int_or(gemm, "transB", 0) == Some(1))
        {
            return Err(w.bad(gemm, "expected Gemm with alpha 1, beta 1, transB 1"));
        }
        if let Some(extra) = w.peek() {
            return invalid(format!("{}: the graph goes on after the classifier", describe(extra, w.i)));
        }
        return Ok(Topology {
            input,
            output: gemm.outputs[0].clone(),
            conv0_w: conv0.inputs[1].clone(),
            conv0_b: conv0.inputs[2].clone(),
            stem_outs,
            blocks,
            transitions,
            norm5: bn,
            fc_w: gemm.inputs[1].clone(),
            fc_b: gemm.inputs[2].clone(),
            head_outs: [bn_out.clone(), relu.outputs[0].clone(), gap.outputs[0].clone(), flat.outputs[0].clone()],
        });
    }
}
