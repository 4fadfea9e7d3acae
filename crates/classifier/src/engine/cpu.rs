//! The CPU engine: our DenseNet engine (`crates/engine`), any batch size.
//! It runs torchvision DenseNet exports only, and says which node of any
//! other graph does not fit.

use std::collections::BTreeMap;

use densenet_edge_engine as engine;
pub use engine::LoadLimits;

use super::{Engine, EngineKind, LocalBoxFuture};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

pub struct CpuEngine {
    engine: engine::Engine,
}

impl From<engine::Error> for Error {
    fn from(e: engine::Error) -> Error {
        match e {
            engine::Error::ModelInvalid(m) => Error::ModelInvalid(m),
            engine::Error::Inference(m) => Error::Inference(m),
            engine::Error::InvalidArgument(m) => Error::InvalidArgument(m),
        }
    }
}

impl CpuEngine {
    /// Load a DenseNet ONNX export whose input is `[batch, 3, 224, 224]`.
    pub fn load(onnx: &[u8]) -> Result<CpuEngine> {
        CpuEngine::new(engine::Engine::load(onnx)?)
    }

    /// The engine's own chunked loader, holding the model to `limits` as it
    /// loads: for a file that arrives in pieces (a download, a stream), which
    /// then never sits whole in memory, only its packed weights. Its errors
    /// convert into this crate's (`?`); give what it finishes to
    /// [`CpuEngine::new`].
    pub fn loader(limits: LoadLimits) -> engine::Loader {
        let mut loader = engine::Engine::loader();
        loader.set_limits(limits);
        loader
    }

    /// A loaded engine, to run natively on every core (wasm has one thread).
    pub fn new(mut engine: engine::Engine) -> Result<CpuEngine> {
        if !cfg!(target_arch = "wasm32") {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            engine.set_threads(cores.min(256))?;
        }
        Ok(CpuEngine { engine })
    }

    /// Run on this many threads per batch (natively; 1 in wasm).
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        Ok(self.engine.set_threads(threads)?)
    }

    pub fn threads(&self) -> usize {
        self.engine.threads()
    }

    /// Every ONNX value's shape at this batch, by the file's names (what
    /// wonnx needs to be told).
    pub fn value_shapes(&self, batch: usize) -> BTreeMap<String, Vec<usize>> {
        self.engine.value_shapes(batch)
    }

    pub fn run_sync(&self, input: &Tensor) -> Result<Vec<Vec<f32>>> {
        let classes = self.engine.classes();
        let logits = self.engine.run(&input.data, input.batch())?;
        Ok(logits.chunks_exact(classes).map(<[f32]>::to_vec).collect())
    }
}

impl Engine for CpuEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Cpu
    }

    fn device(&self) -> String {
        self.engine.device()
    }

    fn precision(&self) -> &'static str {
        self.engine.precision()
    }

    fn run<'a>(&'a self, input: &'a Tensor) -> LocalBoxFuture<'a, Result<Vec<Vec<f32>>>> {
        Box::pin(async move { self.run_sync(input) })
    }
}
