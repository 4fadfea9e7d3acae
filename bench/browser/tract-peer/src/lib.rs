//! tract-onnx in the browser, optimised for batch 1 as the project's former
//! CPU engine ran it: a peer for `scripts/bench-browser.sh`, never shipped.

use std::io::Cursor;

use tract_onnx::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct TractPeer {
    plan: Arc<TypedRunnableModel>,
}

fn js(e: TractError) -> JsError {
    JsError::new(&format!("{e:#}"))
}

#[wasm_bindgen]
impl TractPeer {
    /// Loads and optimises an ONNX model whose input is `[batch, 3, H, W]`,
    /// with the batch fixed at 1 (tract's fastest plan for DenseNet: a
    /// symbolic batch measured 2.4x slower natively).
    #[wasm_bindgen(constructor)]
    pub fn new(onnx: &[u8]) -> Result<TractPeer, JsError> {
        let mut model = tract_onnx::onnx().model_for_read(&mut Cursor::new(onnx)).map_err(js)?;
        let mut input = model.input_fact(0).map_err(js)?.clone();
        input.shape.set_dim(0, 1.to_dim());
        model.set_input_fact(0, input).map_err(js)?;
        let plan = model.into_optimized().map_err(js)?.into_runnable().map_err(js)?;
        Ok(TractPeer { plan })
    }

    /// One image, `[3, 224, 224]` normalised: its logits.
    pub fn run(&self, image: &[f32]) -> Result<Vec<f32>, JsError> {
        let tensor = Tensor::from_shape(&[1, 3, 224, 224], image).map_err(js)?;
        let out = self.plan.run(tvec!(tensor.into_tvalue())).map_err(js)?;
        Ok(out[0].to_plain_array_view::<f32>().map_err(js)?.iter().copied().collect())
    }
}
