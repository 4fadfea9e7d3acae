//! The WebGPU engine: wonnx 0.5.1 on wgpu (the browser's WebGPU, or Vulkan,
//! Metal, DX12 natively). Batch 1 in a loop, and never trusted before it
//! has matched the CPU engine on a probe input.

use std::collections::HashMap;

use wonnx::utils::{InputTensor, OutputTensor};

use super::cpu::CpuEngine;
use super::wonnx_graph;
use super::{probe_input, Engine, EngineKind, LocalBoxFuture};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Largest |gpu - cpu| logit difference accepted at the self-check, relative
/// to max(1, largest |logit|). Correct runs differ by ~1e-5; the silent
/// failures this guards against are off by whole units.
pub const SELF_CHECK_TOLERANCE: f32 = 1e-3;

pub struct WebGpuEngine {
    session: wonnx::Session,
    input: String,
    output: String,
    side: usize,
    adapter: String,
    /// Largest difference from the CPU engine seen at load.
    pub self_check_max_diff: f32,
}

/// The adapter wonnx will get (wonnx itself panics when there is none, so
/// ask first, the same way it does).
pub async fn adapter_info() -> Result<wgpu::AdapterInfo> {
    let backends = wgpu::util::backend_bits_from_env().unwrap_or(wgpu::Backends::PRIMARY);
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor { backends, ..Default::default() });
    let adapter = wgpu::util::initialize_adapter_from_env_or_default(&instance, backends, None)
        .await
        .ok_or_else(|| Error::EngineUnavailable { engine: "webgpu", reason: "no WebGPU adapter found".into() })?;
    Ok(adapter.get_info())
}

impl WebGpuEngine {
    /// Rewrite and compile the model for wonnx, then compare one probe
    /// input against `reference`; a mismatch is an error.
    pub async fn load(onnx: &[u8], side: usize, reference: &CpuEngine) -> Result<WebGpuEngine> {
        let info = adapter_info().await?;
        let adapter = format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type);
        let graph = wonnx_graph::prepare(onnx, &reference.value_shapes(1))?;
        let session = wonnx::Session::from_model(graph.model)
            .await
            .map_err(|e| Error::EngineUnavailable { engine: "webgpu", reason: e.to_string() })?;
        let mut engine =
            WebGpuEngine { session, input: graph.input, output: graph.output, side, adapter, self_check_max_diff: 0.0 };

        let probe = probe_input(1, side);
        let expected = reference.run_sync(&probe)?;
        let got = engine.run_one(&probe.data).await?;
        let scale = expected[0].iter().fold(1.0f32, |m, v| m.max(v.abs()));
        // A NaN or infinite logit (a broken shader) counts as infinitely far:
        // f32::max would skip a NaN.
        let max_diff = expected[0]
            .iter()
            .zip(&got)
            .map(|(a, b)| if b.is_finite() { (a - b).abs() } else { f32::INFINITY })
            .fold(0.0f32, f32::max);
        if got.len() != expected[0].len() || max_diff > SELF_CHECK_TOLERANCE * scale {
            return Err(Error::EngineMismatch { engine: "webgpu", max_diff, tolerance: SELF_CHECK_TOLERANCE * scale });
        }
        engine.self_check_max_diff = max_diff;
        Ok(engine)
    }

    async fn run_one(&self, image: &[f32]) -> Result<Vec<f32>> {
        let mut inputs = HashMap::new();
        inputs.insert(self.input.clone(), InputTensor::F32(image.into()));
        let mut outputs = self.session.run(&inputs).await.map_err(|e| Error::Inference(e.to_string()))?;
        match outputs.remove(&self.output) {
            Some(OutputTensor::F32(v)) => Ok(v),
            _ => Err(Error::Inference(format!("wonnx returned no f32 output {}", self.output))),
        }
    }
}

impl Engine for WebGpuEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Webgpu
    }

    fn device(&self) -> String {
        format!("wonnx on {}", self.adapter)
    }

    fn run<'a>(&'a self, input: &'a Tensor) -> LocalBoxFuture<'a, Result<Vec<Vec<f32>>>> {
        Box::pin(async move {
            if input.shape[1..] != [3, self.side, self.side] {
                return Err(Error::InvalidArgument(format!("input shape {:?}", input.shape)));
            }
            let item = 3 * self.side * self.side;
            let mut out = Vec::with_capacity(input.batch());
            for image in input.data.chunks_exact(item) {
                out.push(self.run_one(image).await?);
            }
            Ok(out)
        })
    }
}
