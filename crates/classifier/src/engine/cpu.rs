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
    /// `[batch, 3, side, side]`; any batch runs, one image at a time.
    pub fn load(onnx: &[u8]) -> Result<CpuEngine> {
        let invalid = |e: TractError| Error::ModelInvalid(format!("{e:#}"));
        let mut model = tract_onnx::onnx().model_for_read(&mut Cursor::new(onnx)).map_err(invalid)?;
        // Optimised for batch 1 and run image by image: measured natively,
        // a plan for a symbolic batch takes 222 ms per image and one for a
        // fixed batch of 4 214 ms, one for a fixed batch of 1 94 ms.
        let mut input = model.input_fact(0).map_err(invalid)?.clone();
        if input.shape.dims().count() != 4 {
            return Err(Error::ModelInvalid("the model input is not [batch, channels, height, width]".into()));
        }
        input.shape.set_dim(0, 1.to_dim());
        model.set_input_fact(0, input).map_err(invalid)?;
        let plan = model.into_optimized().map_err(invalid)?.into_runnable().map_err(invalid)?;
        Ok(CpuEngine { plan })
    }

    pub fn run_sync(&self, input: &Tensor) -> Result<Vec<Vec<f32>>> {
        let [_, c, h, w] = input.shape;
        input.data.chunks_exact(c * h * w).map(|image| self.run_one(&[1, c, h, w], image)).collect()
    }

    fn run_one(&self, shape: &[usize; 4], image: &[f32]) -> Result<Vec<f32>> {
        let failed = |e: TractError| Error::Inference(format!("{e:#}"));
        let tensor = tract_onnx::prelude::Tensor::from_shape(shape, image).map_err(failed)?;
        let outputs = self.plan.run(tvec!(tensor.into_tvalue())).map_err(failed)?;
        let logits = outputs[0].try_as_plain_ram().and_then(|v| v.as_slice::<f32>()).map_err(failed)?;
        Ok(logits.to_vec())
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
