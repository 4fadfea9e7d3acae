//! The whole pipeline for a batch of encoded images: each image gets its
//! own answer or its own error, and the good ones share engine batches.

use crate::crop::Crop;
use crate::decode::{decode_crop_within, DecodeLimits};
use crate::engine::Engine;
#[cfg(feature = "cpu")]
use crate::engine::{load_engine, EngineChoice};
use crate::error::{Error, Result};
use crate::labels::Labels;
#[cfg(feature = "cpu")]
use crate::manifest::Manifest;
use crate::postprocess::{classify_logits, Classification, DEFAULT_THRESHOLD};
use crate::preprocess::Preprocess;
#[cfg(doc)]
use crate::rgba::rgba_crop;
use crate::rgba::{rgba_crop_within, RgbaPixels};
use crate::work_budget::WorkBudget;

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub limits: DecodeLimits,
    pub preprocess: Preprocess,
    /// Top probability under which `recognized` is false.
    pub threshold: f32,
    /// Most images per engine run.
    pub max_batch: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: DecodeLimits::default(),
            preprocess: Preprocess::default(),
            threshold: DEFAULT_THRESHOLD,
            max_batch: 8,
        }
    }
}

/// One image's outcome, and the engine run that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Batched {
    pub result: Result<Classification>,
    /// Images in the engine run that answered this one; 0 when the image
    /// never reached the engine (it failed before).
    pub batch_size: usize,
}

pub struct Classifier {
    engine: Box<dyn Engine>,
    labels: Labels,
    options: Options,
}

impl Classifier {
    pub fn new(engine: Box<dyn Engine>, labels: Labels, options: Options) -> Result<Classifier> {
        options.preprocess.validate()?;
        if options.max_batch == 0 {
            return Err(Error::InvalidArgument("max_batch must be at least 1".into()));
        }
        Ok(Classifier { engine, labels, options })
    }

    /// The classifier of the model a manifest describes: `onnx` checked
    /// against its sha256 (`model_checksum_mismatch`), the engine made by
    /// [`load_engine`] for its crop, its preprocessing (replacing
    /// `options.preprocess`), ImageNet's labels. Also returns why the engine
    /// is the one that runs (for `auto`: why not WebGPU).
    #[cfg(feature = "cpu")]
    pub async fn from_manifest(
        onnx: &[u8],
        manifest: &Manifest,
        choice: EngineChoice,
        options: Options,
    ) -> Result<(Classifier, String)> {
        manifest.verify(onnx)?;
        let options = Options { preprocess: manifest.preprocess.clone(), ..options };
        let loaded = load_engine(onnx, options.preprocess.crop as usize, choice).await?;
        Ok((Classifier::new(loaded.engine, Labels::imagenet().clone(), options)?, loaded.reason))
    }

    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Decode, resize and crop: the uint8 image the model will see.
    /// [`Classifier::prepare_within`] with an unlimited budget.
    pub fn prepare(&self, bytes: &[u8]) -> Result<Crop> {
        self.prepare_within(bytes, &mut WorkBudget::unlimited())
    }

    /// [`Classifier::prepare`], charging the image's decode work (from its
    /// header, before decoding: see [`decode_crop_within`]) to `budget`, the
    /// budget of the request it belongs to. When less is left:
    /// [`Error::TooMuchWork`], and the budget stays as it was.
    pub fn prepare_within(&self, bytes: &[u8], budget: &mut WorkBudget) -> Result<Crop> {
        decode_crop_within(bytes, &self.options.limits, &self.options.preprocess, budget)
    }

    /// Resize and crop RGBA pixels (e.g. a canvas's `ImageData`) with this
    /// classifier's limits: see [`rgba_crop`]. [`Classifier::prepare_rgba_within`]
    /// with an unlimited budget.
    pub fn prepare_rgba<P: RgbaPixels + ?Sized>(&self, pixels: &P, width: u32, height: u32) -> Result<Crop> {
        self.prepare_rgba_within(pixels, width, height, &mut WorkBudget::unlimited())
    }

    /// [`Classifier::prepare_rgba`], charging `width * height` pixels of
    /// work to `budget` (see [`rgba_crop_within`]).
    pub fn prepare_rgba_within<P: RgbaPixels + ?Sized>(
        &self,
        pixels: &P,
        width: u32,
        height: u32,
        budget: &mut WorkBudget,
    ) -> Result<Crop> {
        rgba_crop_within(pixels, width, height, &self.options.limits, &self.options.preprocess, budget)
    }

    /// Classify encoded images; the answer at `i` is for `images[i]`.
    pub async fn classify(&self, images: &[&[u8]], top_k: usize) -> Vec<Result<Classification>> {
        let prepared: Vec<Result<Crop>> = images.iter().map(|b| self.prepare(b)).collect();
        self.classify_prepared(prepared, top_k).await
    }

    /// Classify images already decoded, resized and cropped (from
    /// [`Classifier::prepare`], or pixels from a canvas); errors pass through.
    pub async fn classify_prepared(&self, prepared: Vec<Result<Crop>>, top_k: usize) -> Vec<Result<Classification>> {
        self.classify_in_batches(prepared, top_k).await.into_iter().map(|b| b.result).collect()
    }

    /// [`Classifier::classify_prepared`], with the size of the engine run
    /// each image was in (what a server reports, and what it cannot guess:
    /// failed images take no place in a run). The good ones go to the engine
    /// in order, `options.max_batch` at a time; a caller that groups images
    /// itself (the Worker, alone or coalescing) passes at most that many,
    /// and they run as one.
    pub async fn classify_in_batches(&self, prepared: Vec<Result<Crop>>, top_k: usize) -> Vec<Batched> {
        let crop = self.options.preprocess.crop;
        let mut answers: Vec<Option<Batched>> = Vec::with_capacity(prepared.len());
        let failed = |e: Error| Some(Batched { result: Err(e), batch_size: 0 });
        let mut pending: Vec<(usize, Crop)> = Vec::new();
        for (i, p) in prepared.into_iter().enumerate() {
            match p {
                // A crop made by another Preprocess than this classifier's.
                Ok(c) if c.side() == crop => {
                    answers.push(None);
                    pending.push((i, c));
                }
                Ok(c) => answers.push(failed(Error::InvalidArgument(format!(
                    "the crop is {0}x{0}, this classifier's is {crop}x{crop}",
                    c.side()
                )))),
                Err(e) => answers.push(failed(e)),
            }
        }
        for chunk in pending.chunks(self.options.max_batch) {
            let images: Vec<&Crop> = chunk.iter().map(|(_, img)| img).collect();
            let batch = self.options.preprocess.normalized(&images);
            let result = self.engine.run(&batch).await;
            for (k, (i, _)) in chunk.iter().enumerate() {
                let result = match &result {
                    Ok(logits) => Ok(classify_logits(&logits[k], &self.labels, top_k, self.options.threshold)),
                    Err(e) => Err(e.clone()),
                };
                answers[*i] = Some(Batched { result, batch_size: chunk.len() });
            }
        }
        answers.into_iter().map(|a| a.expect("every image answered")).collect()
    }
}
