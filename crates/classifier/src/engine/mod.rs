//! Inference engines: ONNX bytes in, logits out, behind one trait so the
//! engine is picked at run time.

#[cfg(feature = "cpu")]
pub mod cpu;
#[cfg(feature = "webgpu")]
pub mod webgpu;
#[cfg(feature = "webgpu")]
pub mod wonnx_graph;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::tensor::Tensor;

/// Not `Send`: in wasm everything runs on one thread, and wonnx's futures
/// are not `Send` there.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Our DenseNet engine (`crates/engine`) on the CPU.
    Cpu,
    /// wonnx on WebGPU (native: Vulkan, Metal, DX12).
    Webgpu,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Cpu => "cpu",
            EngineKind::Webgpu => "webgpu",
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub trait Engine {
    fn kind(&self) -> EngineKind;

    /// A human-readable description of the device, e.g. the GPU adapter.
    fn device(&self) -> String;

    /// `"f32"`, or `"int8"` for a quantized model.
    fn precision(&self) -> &'static str {
        "f32"
    }

    /// Logits for a batch `[N, 3, H, W]`: N rows of class scores.
    fn run<'a>(&'a self, input: &'a Tensor) -> LocalBoxFuture<'a, Result<Vec<Vec<f32>>>>;
}

/// The input side the CPU engine runs (torchvision's 224x224 crop).
pub const INPUT_SIDE: usize = 224;

/// A manifest's crop must be the side the CPU engine runs.
pub(crate) fn check_input_side(side: usize) -> Result<()> {
    if side != INPUT_SIDE {
        return Err(crate::Error::ModelInvalid(format!(
            "the manifest crops {side}x{side}; the DenseNet engine runs {INPUT_SIDE}x{INPUT_SIDE} inputs"
        )));
    }
    Ok(())
}

/// Deterministic input in the range of normalised images, for self-checks
/// and benchmarks.
pub fn probe_input(batch: usize, side: usize) -> Tensor {
    let mut t = Tensor::zeros([batch, 3, side, side]);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for v in t.data.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *v = ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0;
    }
    t
}

/// The engine a caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    Cpu,
    /// WebGPU, or an error saying why not.
    Webgpu,
    /// WebGPU when it loads and passes its self-check, else the CPU.
    Auto,
}

impl std::str::FromStr for EngineChoice {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(EngineChoice::Cpu),
            "webgpu" => Ok(EngineChoice::Webgpu),
            "auto" => Ok(EngineChoice::Auto),
            _ => Err(crate::Error::InvalidArgument(format!("unknown engine {s:?}: use cpu, webgpu or auto"))),
        }
    }
}

/// An engine and why it is the one that runs (for `auto`: why not WebGPU).
pub struct LoadedEngine {
    pub engine: Box<dyn Engine>,
    pub reason: String,
}

/// The one place engines are made. The CPU engine is always loaded: it runs
/// the model, or it is the reference the WebGPU engine must match on a probe
/// input before it is trusted (its failure modes are silent).
#[cfg(feature = "cpu")]
pub async fn load_engine(onnx: &[u8], side: usize, choice: EngineChoice) -> Result<LoadedEngine> {
    check_input_side(side)?;
    // Before the load it would make useless.
    load_engine_with(onnx, side, choice, cpu::CpuEngine::load(onnx)?).await
}

/// [`load_engine`] with the CPU engine already loaded from the same file,
/// e.g. under a host's weight and workspace limits (`CpuEngine::loader`),
/// so that WebGPU never sees a model its reference refused.
#[cfg(feature = "cpu")]
pub async fn load_engine_with(
    onnx: &[u8],
    side: usize,
    choice: EngineChoice,
    cpu: cpu::CpuEngine,
) -> Result<LoadedEngine> {
    check_input_side(side)?;
    if choice == EngineChoice::Cpu {
        return Ok(LoadedEngine { engine: Box::new(cpu), reason: "asked for the CPU".into() });
    }
    let webgpu = if cpu.precision() == "f32" {
        load_webgpu(onnx, side, &cpu).await
    } else {
        let reason = format!("wonnx runs f32 models; this one is {}", cpu.precision());
        Err(crate::Error::EngineUnavailable { engine: "webgpu", reason })
    };
    match webgpu {
        Ok(loaded) => Ok(loaded),
        Err(e) if choice == EngineChoice::Auto => {
            Ok(LoadedEngine { engine: Box::new(cpu), reason: format!("WebGPU failed, using the CPU: {e}") })
        }
        Err(e) => Err(e),
    }
}

#[cfg(feature = "webgpu")]
async fn load_webgpu(onnx: &[u8], side: usize, cpu: &cpu::CpuEngine) -> Result<LoadedEngine> {
    let gpu = webgpu::WebGpuEngine::load(onnx, side, cpu).await?;
    let reason = format!("WebGPU passed its self-check (max |diff| vs CPU {:.2e})", gpu.self_check_max_diff);
    Ok(LoadedEngine { engine: Box::new(gpu), reason })
}

#[cfg(all(feature = "cpu", not(feature = "webgpu")))]
async fn load_webgpu(_: &[u8], _: usize, _: &cpu::CpuEngine) -> Result<LoadedEngine> {
    Err(crate::Error::EngineUnavailable { engine: "webgpu", reason: "this build has no WebGPU engine".into() })
}
