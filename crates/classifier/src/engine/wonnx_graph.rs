//! Rewrites that make an ordinary (torchvision-exported) ONNX graph run
//! correctly on wonnx 0.5.1. Each one answers a failure that was measured,
//! and most of those failures are silent wrong logits, not errors
//! (../shared/DESIGN.md, "What wonnx 0.5.1 needs").

use std::collections::{BTreeMap, HashMap, HashSet};

use protobuf::{Message, ProtobufEnum, RepeatedField};
use wonnx::onnx::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, TensorProto_DataType};
use wonnx::utils::tensor_of_type;

use crate::error::{Error, Result};

/// Browsers allow 8 storage buffers per shader stage: a Concat shader binds
/// its inputs and one output, so more than 7 inputs fail validation (only
/// logged to the console) and wonnx returns garbage.
pub const MAX_CONCAT_INPUTS: usize = 7;

/// The graph wonnx gets, and the names of its input and output.
pub struct WonnxGraph {
    pub model: ModelProto,
    pub input: String,
    pub output: String,
}

/// Parse `onnx` and rewrite it for wonnx at batch 1, given the shape of
/// every value at batch 1 (the CPU engine's, which has checked the graph).
pub fn prepare(onnx: &[u8], value_shapes: &BTreeMap<String, Vec<usize>>) -> Result<WonnxGraph> {
    let invalid = |m: String| Error::ModelInvalid(m);
    let mut model = ModelProto::parse_from_bytes(onnx).map_err(|e| invalid(e.to_string()))?;
    let graph = model.mut_graph();
    let initializers: HashSet<String> = graph.get_initializer().iter().map(|t| t.get_name().to_string()).collect();
    let inputs: Vec<String> =
        graph.get_input().iter().map(|i| i.get_name().to_string()).filter(|n| !initializers.contains(n)).collect();
    let [input] = inputs.as_slice() else {
        return Err(invalid(format!("expected one input, found {inputs:?}")));
    };
    let input = input.clone();
    let output = match graph.get_output() {
        [o] => o.get_name().to_string(),
        other => return Err(invalid(format!("expected one output, found {}", other.len()))),
    };

    let mut shapes: HashMap<String, Vec<i64>> =
        value_shapes.iter().map(|(name, dims)| (name.clone(), dims.iter().map(|&d| d as i64).collect())).collect();
    add_zero_conv_bias(graph)?;
    untranspose_gemm(graph)?;
    split_concats(graph, &mut shapes, MAX_CONCAT_INPUTS)?;

    // wonnx needs every value's shape (or fails with OutputNodeNotFound),
    // and runs batch 1 only: its Concat ignores `axis`, so batch > 1 is wrong.
    let float = TensorProto_DataType::FLOAT;
    let shape_of = |n: &str| shapes.get(n).cloned().ok_or_else(|| invalid(format!("no shape for {n}")));
    graph.set_input(RepeatedField::from_vec(vec![tensor_of_type(&input, &shape_of(&input)?, float)]));
    graph.set_output(RepeatedField::from_vec(vec![tensor_of_type(&output, &shape_of(&output)?, float)]));
    let mut value_info = Vec::new();
    for node in graph.get_node() {
        for name in node.get_output() {
            if *name != output {
                value_info.push(tensor_of_type(name, &shape_of(name)?, float));
            }
        }
    }
    graph.set_value_info(RepeatedField::from_vec(value_info));
    Ok(WonnxGraph { model, input, output })
}

fn initializer_index(graph: &GraphProto, name: &str) -> Option<usize> {
    graph.get_initializer().iter().position(|t| t.get_name() == name)
}

fn float_data(t: &TensorProto) -> Vec<f32> {
    if t.get_raw_data().is_empty() {
        t.get_float_data().to_vec()
    } else {
        t.get_raw_data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
    }
}

fn float_tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    let mut t = TensorProto::new();
    t.set_name(name.to_string());
    t.set_dims(dims.to_vec());
    t.set_data_type(TensorProto_DataType::FLOAT.value());
    t.set_raw_data(data.iter().flat_map(|v| v.to_le_bytes()).collect());
    t
}

fn int_attribute(node: &NodeProto, name: &str) -> Option<i64> {
    node.get_attribute().iter().find(|a| a.get_name() == name).map(AttributeProto::get_i)
}

/// wonnx pads a Conv's weights for its vectorised kernels only when a bias
/// is present; a 3x3 Conv without one computes wrong values.
fn add_zero_conv_bias(graph: &mut GraphProto) -> Result<()> {
    let mut new_initializers = Vec::new();
    for (ix, node) in graph.mut_node().iter_mut().enumerate() {
        if node.get_op_type() != "Conv" || node.get_input().get(2).is_some_and(|b| !b.is_empty()) {
            continue;
        }
        let weight = node.get_input()[1].clone();
        new_initializers.push((ix, weight));
    }
    for (ix, weight) in new_initializers {
        let w = initializer_index(graph, &weight)
            .ok_or_else(|| Error::ModelInvalid(format!("Conv weight {weight} is not an initializer")))?;
        let out_channels = graph.get_initializer()[w].get_dims()[0];
        let name = format!("{weight}__zero_bias");
        graph.mut_initializer().push(float_tensor(&name, &[out_channels], &vec![0.0; out_channels as usize]));
        let inputs = graph.mut_node()[ix].mut_input();
        inputs.truncate(2);
        inputs.push(name);
    }
    Ok(())
}

/// wonnx rejects Gemm with `transB=1`: store B transposed instead.
fn untranspose_gemm(graph: &mut GraphProto) -> Result<()> {
    for ix in 0..graph.get_node().len() {
        let node = &graph.get_node()[ix];
        if node.get_op_type() != "Gemm" || int_attribute(node, "transB") != Some(1) {
            continue;
        }
        let b = node.get_input()[1].clone();
        let w = initializer_index(graph, &b)
            .ok_or_else(|| Error::ModelInvalid(format!("Gemm with transB=1 needs B ({b}) to be an initializer")))?;
        let t = &graph.get_initializer()[w];
        let (rows, cols) = (t.get_dims()[0] as usize, t.get_dims()[1] as usize);
        let data = float_data(t);
        let mut transposed = vec![0.0; data.len()];
        for r in 0..rows {
            for c in 0..cols {
                transposed[c * rows + r] = data[r * cols + c];
            }
        }
        graph.mut_initializer()[w] = float_tensor(&b, &[cols as i64, rows as i64], &transposed);
        for a in graph.mut_node()[ix].mut_attribute().iter_mut() {
            if a.get_name() == "transB" {
                a.set_i(0);
            }
        }
    }
    Ok(())
}

/// Replace each Concat of more than `max_inputs` inputs by a chain of
/// Concats of at most `max_inputs`, recording the intermediate shapes.
fn split_concats(graph: &mut GraphProto, shapes: &mut HashMap<String, Vec<i64>>, max_inputs: usize) -> Result<()> {
    let mut nodes = Vec::with_capacity(graph.get_node().len());
    for node in graph.take_node().into_iter() {
        if node.get_op_type() != "Concat" || node.get_input().len() <= max_inputs {
            nodes.push(node);
            continue;
        }
        let axis = int_attribute(&node, "axis").unwrap_or(0);
        let rank = shapes.get(&node.get_input()[0]).map_or(0, Vec::len) as i64;
        let axis = if axis < 0 { axis + rank } else { axis } as usize;
        let inputs = node.get_input().to_vec();
        let mut acc = inputs[0].clone();
        let mut rest = &inputs[1..];
        let mut part = 0;
        while !rest.is_empty() {
            let take = rest.len().min(max_inputs - 1);
            let last = take == rest.len();
            let out = if last { node.get_output()[0].clone() } else { format!("{}__part{part}", node.get_output()[0]) };
            let mut piece = node.clone();
            piece.set_name(format!("{}__part{part}", node.get_name()));
            let mut piece_inputs = vec![acc.clone()];
            piece_inputs.extend_from_slice(&rest[..take]);
            if !last {
                let mut shape = shapes
                    .get(&acc)
                    .cloned()
                    .ok_or_else(|| Error::ModelInvalid(format!("no shape for Concat input {acc}")))?;
                for i in &rest[..take] {
                    shape[axis] += shapes.get(i).map_or(0, |s| s[axis]);
                }
                shapes.insert(out.clone(), shape);
            }
            piece.set_input(RepeatedField::from_vec(piece_inputs));
            piece.set_output(RepeatedField::from_vec(vec![out.clone()]));
            nodes.push(piece);
            acc = out;
            rest = &rest[take..];
            part += 1;
        }
    }
    graph.set_node(RepeatedField::from_vec(nodes));
    Ok(())
}
