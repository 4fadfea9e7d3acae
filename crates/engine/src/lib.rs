//! A CPU inference engine for torchvision DenseNet ONNX exports (121, 169,
//! 201, 161, or any block configuration and growth rate of the same
//! structure).
//!
//! ```no_run
//! let bytes = std::fs::read("model/build/densenet121-random.onnx").unwrap();
//! let engine = densenet_edge_engine::Engine::load(&bytes).unwrap();
//! let input = vec![0f32; 3 * 224 * 224]; // one NCHW image, normalised
//! let logits = engine.run(&input, 1).unwrap(); // 1000 logits
//! println!("{} ran it", engine.device());
//! ```
//!
//! Loading in pieces (the file never sits whole in memory):
//!
//! ```no_run
//! # fn chunks() -> Vec<Vec<u8>> { vec![] }
//! let mut loader = densenet_edge_engine::Engine::loader();
//! for chunk in chunks() {
//!     loader.push(&chunk)?;
//! }
//! let engine = loader.finish()?;
//! # Ok::<(), densenet_edge_engine::Error>(())
//! ```

// Register tiles are indexed loops over constant bounds, which unroll fully.
#![allow(clippy::needless_range_loop)]

// Layers, each importing only those below it: onnx -> plan -> ops ->
// kernels; `int8` is a leaf beside `kernels`, `error` and `scalar` are
// used by all.
mod barrier;
mod error;
mod grow;
pub mod int8;
mod kernels;
mod onnx;
mod ops;
mod plan;
mod scalar;

use std::collections::BTreeMap;
use std::sync::Mutex;

pub use error::{Error, Result};
pub use kernels::KernelKind;
pub use onnx::{LoadLimits, Loader};

use onnx::topology::Topology;
use ops::stem::{IMAGE, STEM_OUT};
use plan::{Net, Workspace, POOL_OUT};

/// Values per input image: 3 x 224 x 224, NCHW.
pub const INPUT_LEN: usize = 3 * IMAGE * IMAGE;

/// A loaded, planned network. `run` takes `&self`: one engine serves
/// concurrent callers.
pub struct Engine {
    topo: Topology,
    net: Net,
    threads: usize,
    /// Buffers of the last run, reused by the next (a concurrent run makes its own).
    workspace: Mutex<Option<Workspace>>,
}

// `finish` lives here, beside the `Engine` it makes: the loader's module
// stays below this one.
impl Loader {
    /// Ends the file: checks that every weight arrived and plans the network.
    pub fn finish(self) -> Result<Engine> {
        let (topo, net) = self.finish_plan()?;
        Ok(Engine { topo, net, threads: 1, workspace: Mutex::new(None) })
    }
}

impl Engine {
    /// Loads a whole ONNX file with the best kernel this machine has.
    pub fn load(bytes: &[u8]) -> Result<Engine> {
        let mut l = Self::loader();
        l.push(bytes)?;
        l.finish()
    }

    /// A chunked loader with the best kernel this machine has.
    pub fn loader() -> Loader {
        Self::loader_with(KernelKind::best()).expect("the best kernel is available")
    }

    /// A chunked loader for a given kernel set (tests and benchmarks compare them).
    pub fn loader_with(kind: KernelKind) -> Result<Loader> {
        let kern = kind.kernel().ok_or_else(|| {
            Error::InvalidArgument(format!("kernel {} is not available on this machine", kind.name()))
        })?;
        Ok(Loader::new(kern))
    }

    /// Runs `batch` images (NCHW, 3x224x224 each, normalised) and returns
    /// `batch * classes()` logits, image after image.
    pub fn run(&self, input: &[f32], batch: usize) -> Result<Vec<f32>> {
        if batch == 0 {
            return Err(Error::InvalidArgument("batch must be at least 1".into()));
        }
        let want = batch.checked_mul(INPUT_LEN).ok_or_else(|| Error::InvalidArgument("batch too large".into()))?;
        if input.len() != want {
            return Err(Error::InvalidArgument(format!(
                "input holds {} values, batch {batch} needs {want} (3x224x224 per image)",
                input.len()
            )));
        }
        if input.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument("input holds a NaN or infinite value".into()));
        }
        let threads = self.threads.min(batch * 64).max(1);
        // Every size the forward pass computes is a term of this sum: where
        // it fits, none of them wraps (they would on wasm32 for a large
        // enough batch, and a GEMM would write past its buffer).
        match self.net.checked_workspace_bytes(batch, threads) {
            Some(bytes) if bytes <= isize::MAX as usize => {}
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "a run of {batch} images needs more memory than a {}-bit target can address",
                    usize::BITS
                )))
            }
        }
        let mut ws = self.workspace.lock().ok().and_then(|mut w| w.take()).unwrap_or_default();
        let out =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.net.forward(input, batch, threads, &mut ws)))
                .map_err(|_| Error::Inference("the forward pass panicked".into()))?;
        if let Ok(mut w) = self.workspace.lock() {
            *w = Some(ws);
        }
        Ok(out)
    }

    /// At most the bytes a run of `batch` images allocates (on this engine's
    /// threads): activations, scratch, the logits. They are kept for the
    /// next run (`release_buffers`). `usize::MAX` for a batch whose sizes
    /// overflow (`run` refuses it).
    pub fn workspace_bytes(&self, batch: usize) -> usize {
        self.net.workspace_bytes(batch, self.threads.min(batch.saturating_mul(64)).max(1))
    }

    /// Drops the buffers kept from the last run (they are as large as the
    /// largest batch run so far).
    pub fn release_buffers(&self) {
        if let Ok(mut w) = self.workspace.lock() {
            *w = None;
        }
    }

    /// Which kernel sets run, e.g. "densenet-edge avx512", or for an int8
    /// model "densenet-edge avx512 + int8 avx512-vnni".
    pub fn device(&self) -> String {
        match &self.net.quant {
            Some(q) => format!("densenet-edge {} + int8 {}", self.net.kern.kind.name(), q.kern.kind.name()),
            None => format!("densenet-edge {}", self.net.kern.kind.name()),
        }
    }

    /// "int8" for a quantized (QDQ) model, else "f32".
    pub fn precision(&self) -> &'static str {
        if self.net.quant.is_some() {
            "int8"
        } else {
            "f32"
        }
    }

    pub fn kernel(&self) -> KernelKind {
        self.net.kern.kind
    }

    /// Threads per `run` (natively; wasm has none). 1 by default.
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        if threads == 0 || threads > 256 {
            return Err(Error::InvalidArgument(format!("threads must be 1..=256, got {threads}")));
        }
        if cfg!(target_arch = "wasm32") && threads > 1 {
            return Err(Error::InvalidArgument("wasm builds run on one thread".into()));
        }
        self.threads = threads;
        Ok(())
    }

    /// Blocks whose maps have fewer pixels per image than this run the whole
    /// batch as one GEMM; larger ones run image by image (784 by default:
    /// blocks 3 and 4 of DenseNet at 224x224). For measurements.
    #[doc(hidden)]
    pub fn set_fold_below(&mut self, pixels: usize) {
        self.net.fold_below = pixels;
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Logits per image (1000 for ImageNet).
    pub fn classes(&self) -> usize {
        self.net.classes()
    }

    /// Bytes of packed weights held.
    pub fn weight_bytes(&self) -> usize {
        self.net.weight_bytes()
    }

    /// The shape of every value of the ONNX graph (its input, every node's
    /// output) for a given batch, by the names the file uses.
    pub fn value_shapes(&self, batch: usize) -> BTreeMap<String, Vec<usize>> {
        let mut m = BTreeMap::new();
        let mut put = |name: &str, dims: &[usize]| {
            let mut v = vec![batch];
            v.extend_from_slice(dims);
            m.insert(name.to_string(), v);
        };
        let t = &self.topo;
        let net = &self.net;
        put(&t.input, &[3, IMAGE, IMAGE]);
        let c0 = net.stem.cout();
        put(&t.stem_outs[0], &[c0, STEM_OUT, STEM_OUT]);
        put(&t.stem_outs[1], &[c0, STEM_OUT, STEM_OUT]);
        put(&t.stem_outs[2], &[c0, POOL_OUT, POOL_OUT]);
        for (bi, (block, bw)) in t.blocks.iter().zip(&net.blocks).enumerate() {
            let s = bw.side;
            let mut c = bw.c_in;
            for (layer, lw) in block.layers.iter().zip(&bw.layers) {
                let (bott, g) = (lw.conv1.m, lw.conv2.cout());
                for (name, ch) in layer.outs.iter().zip([c, c, c, bott, bott, g]) {
                    put(name, &[ch, s, s]);
                }
                c += g;
            }
            put(&block.out, &[c, s, s]);
            if let (Some(tr), Some(tw)) = (t.transitions.get(bi), net.trans.get(bi)) {
                let o = tw.conv.m;
                for (name, dims) in tr.outs.iter().zip([[c, s, s], [c, s, s], [o, s, s], [o, s / 2, s / 2]]) {
                    put(name, &dims);
                }
            }
        }
        let last = net.blocks.last().unwrap();
        let (c, s) = (last.c_out, last.side);
        put(&t.head_outs[0], &[c, s, s]);
        put(&t.head_outs[1], &[c, s, s]);
        put(&t.head_outs[2], &[c, 1, 1]);
        put(&t.head_outs[3], &[c]);
        put(&t.output, &[net.classes()]);
        m
    }

    /// Dense layers per block, e.g. [6, 12, 24, 16] for DenseNet-121.
    pub fn block_sizes(&self) -> Vec<usize> {
        self.net.blocks.iter().map(|b| b.layers.len()).collect()
    }
}

#[doc(hidden)]
pub mod bench_api {
    //! GEMM entry points for the kernel micro-benchmarks and kernel tests; not a stable API.
    pub use crate::kernels::qparams::Q;
    pub use crate::kernels::{Bn, Cols, Kernel, Strided, WinoChunk, WinoInput};
    pub use crate::ops::gemm::{gemm, pack_plain, Out, PackedA, Ptr, B};
    pub use crate::ops::quant::check_in_place;
    #[cfg(feature = "stages")]
    pub use crate::plan::stages;

    /// The Winograd transforms' micro-benchmark (examples/kernels.rs natively,
    /// bench/engine/wasm_kernels.mjs in wasm): `reps` times, one DenseNet
    /// conv2's input transform (128 channels) or output transform (32
    /// channels, `out`) of one side x side map with `kern`, in the chunks of
    /// the network's plan for one thread. Returns a value of the output.
    pub fn winograd_transforms(kern: &Kernel, side: usize, tile: usize, out: bool, reps: usize) -> f32 {
        let (cin, cout) = (128, 32);
        let plan = crate::ops::winograd::Plan::for_shape(tile, cin, cout, side, 1, 1, kern.col_step());
        let points = (tile + 2) * (tile + 2);
        let ld = side * side;
        let stride = if out { plan.ms } else { plan.vs };
        let mid: Vec<f32> = (0..cin * ld).map(|i| ((i * 17) % 89) as f32 / 89.0 - 0.5).collect();
        let mut v = vec![0.5f32; points * stride];
        let mut dst = vec![0f32; cout * ld];
        for _ in 0..reps {
            for chunk in 0..plan.chunks {
                let (r0, r1, cols) = plan.chunk(chunk);
                let channels = if out { cout } else { cin };
                let c = WinoChunk { side, tile, channels, p_stride: stride, r0, r1, cols };
                unsafe {
                    if out {
                        (kern.wino_out)(&v, &c, dst.as_mut_ptr(), ld)
                    } else {
                        (kern.wino_in)(WinoInput::Floats(&mid), ld, &c, v.as_mut_ptr())
                    }
                }
            }
        }
        v[points * stride - 1] + dst[cout * ld - 1]
    }

    /// The stem's Winograd transforms (same benchmarks): `reps` times, the
    /// input transform of one image (`out` false) or the output transform
    /// of DenseNet's 64 stem channels, in the chunks of a 1-thread plan.
    pub fn stem_transforms(kern: &Kernel, out: bool, reps: usize) -> f32 {
        crate::ops::stem::transforms_bench(kern, 64, out, reps)
    }
}
