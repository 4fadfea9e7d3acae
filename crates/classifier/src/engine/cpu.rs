//! The CPU engine: tract-onnx, any batch size.

use std::io::Cursor;

use tract_onnx::prelude::*;

use super::{Engine, EngineKind, LocalBoxFuture};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

pub struct CpuEngine {
    plan: Arc<TypedRunnableModel>,
}

impl CpuEngine {
    /// Load and optimise an ONNX model whose single input is
    /// `[batch, 3, side, side]` (a symbolic batch stays symbolic, so any N
    /// runs on the same plan).
    pub fn load(onnx: &[u8]) -> Result<CpuEngine> {
        let invalid = |e: TractError| Error::ModelInvalid(format!("{e:#}"));
        let model = tract_onnx::onnx().model_for_read(&mut Cursor::new(onnx)).map_err(invalid)?;
        let plan = model.into_optimized().map_err(invalid)?.into_runnable().map_err(invalid)?;
        Ok(CpuEngine { plan })
    }

    pub fn run_sync(&self, input: &Tensor) -> Result<Vec<Vec<f32>>> {
        let failed = |e: TractError| Error::Inference(format!("{e:#}"));
        let tensor = tract_onnx::prelude::Tensor::from_shape(&input.shape, &input.data).map_err(failed)?;
        let outputs = self.plan.run(tvec!(tensor.into_tvalue())).map_err(failed)?;
        let logits = outputs[0].try_as_plain_ram().and_then(|v| v.as_slice::<f32>()).map_err(failed)?;
        let n = input.batch();
        if n == 0 || logits.len() % n != 0 {
            return Err(Error::Inference(format!("{} logits for a batch of {n}", logits.len())));
        }
        Ok(logits.chunks(logits.len() / n).map(<[f32]>::to_vec).collect())
    }
}

impl Engine for CpuEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Cpu
    }

    fn device(&self) -> String {
        if cfg!(target_arch = "wasm32") {
            "tract (wasm32, simd128)".into()
        } else {
            format!("tract ({})", std::env::consts::ARCH)
        }
    }

    fn run<'a>(&'a self, input: &'a Tensor) -> LocalBoxFuture<'a, Result<Vec<Vec<f32>>>> {
        Box::pin(async move { self.run_sync(input) })
    }
}
