//! The planned network and its forward pass.
//!
//! Activations are channel-major with the batch inside: [C][B*H*W]. A 1x1
//! conv is then one GEMM with N = B*H*W (the batch folded into N, so weights
//! are reused across images), and each dense block owns one buffer of all its
//! channels that every layer appends its growth channels to: no Concat copy.
//!
//! Threads run the same plan (SPMD): each takes its share of every GEMM's
//! column panels or of every pooling's planes, and a barrier separates steps.
//! The stages that run image by image (the stem and the blocks with large
//! maps) are the exception when a batch has an image for every thread: then
//! each thread takes whole images through them alone, in buffers of its own,
//! with no barrier until the batch meets again in the first folded block.

use crate::barrier::Barrier;
use crate::grow;
use crate::int8::{Int8Kernel, Strided};
use crate::kernels::qparams::to_u8;
use crate::kernels::quant::BnReluMaps;
use crate::kernels::{Bn, Cols, Kernel, WinoInput};
use crate::ops::bordered::Bordered;
use crate::ops::gemm::{self, share, Out, PackedA, Ptr, B};
use crate::ops::pool::{avgpool2, bn_relu_avgpool2, maxpool3s2};
use crate::ops::quant::{ConvInt8, Direct, Dst, Ptr8, Scratch8, Q};
use crate::ops::stem::{self, StemW, IMAGE, STEM_OUT};
use crate::ops::winograd::{self, WinogradW};
use crate::ops::Scratch;
use crate::scalar::relu;

/// The map side after the stem's max pool.
pub const POOL_OUT: usize = 56;

/// The map side of dense block `b`: each transition halves it (0 once it
/// would drop below 1 pixel).
pub fn block_side(b: usize) -> usize {
    u32::try_from(b).ok().and_then(|b| POOL_OUT.checked_shr(b)).unwrap_or(0)
}

/// `terms` summed, or None if that overflows `usize`.
fn sum(terms: &[usize]) -> Option<usize> {
    terms.iter().try_fold(0usize, |a, &t| a.checked_add(t))
}

/// The stem's 7x7 / 2 conv (norm0 folded in, ReLU): Winograd F(3x3, 4x4)
/// over the image's phases, or a GEMM over im2col panels (K = 147).
pub enum Stem {
    Winograd(StemW),
    Im2col(PackedA),
}

impl Stem {
    pub fn cout(&self) -> usize {
        match self {
            Stem::Winograd(w) => w.cout,
            Stem::Im2col(a) => a.m,
        }
    }

    pub fn bytes(&self) -> usize {
        match self {
            Stem::Winograd(w) => w.bytes(),
            Stem::Im2col(a) => a.bytes(),
        }
    }
}

pub struct LayerW {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    /// conv1 1x1 with norm2 folded in (bias), ReLU epilogue.
    pub conv1: PackedA,
    pub conv2: Conv3,
}

/// A dense layer's 3x3 conv: Winograd, or a GEMM over im2col panels (K = Cin * 9).
pub enum Conv3 {
    Winograd(WinogradW),
    Im2col(PackedA),
}

impl Conv3 {
    pub fn cout(&self) -> usize {
        match self {
            Conv3::Winograd(w) => w.cout,
            Conv3::Im2col(a) => a.m,
        }
    }

    pub fn bytes(&self) -> usize {
        match self {
            Conv3::Winograd(w) => w.bytes(),
            Conv3::Im2col(a) => a.bytes(),
        }
    }
}

pub struct BlockW {
    pub c_in: usize,
    pub c_out: usize,
    pub side: usize,
    pub layers: Vec<LayerW>,
}

pub struct TransW {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    pub conv: PackedA,
}

pub struct Net {
    pub kern: Kernel,
    pub stem: Stem,
    pub blocks: Vec<BlockW>,
    pub trans: Vec<TransW>,
    pub n5_scale: Vec<f32>,
    pub n5_shift: Vec<f32>,
    pub fc: PackedA,
    /// Blocks with fewer pixels per image than this fold the batch into N.
    pub fold_below: usize,
    /// An int8 (QDQ) model's quantization; None for an f32 model.
    pub quant: Option<Quant>,
}

/// An int8 model: where onnxruntime's QDQ graph quantizes, and its convs in
/// int8. The f32 structures above hold only their shapes, but for the 3x3
/// convs that run in f32 on dequantized values (`quantized::conv3_int8`;
/// crates/engine/README.md, "int8 models").
pub struct Quant {
    pub kern: Int8Kernel,
    /// The graph input's quantization.
    pub input: Q,
    /// The stem's conv (norm0 folded in), from `input` into the ReLU's
    /// quantization (and its max pool's).
    pub conv0: ConvInt8,
    /// Per block, per dense layer.
    pub layers: Vec<Vec<LayerQ>>,
    pub trans: Vec<TransQ>,
    /// Per block, each channel's quantization: its buffer holds codes.
    pub codes: Vec<Vec<Q>>,
    /// norm5's input (the last Concat), its ReLU, the global average pool.
    pub head: [Q; 3],
    /// The classifier, with float logits (QGemm).
    pub fc: ConvInt8,
}

impl Quant {
    /// Every conv that runs in int8 (the classifier included).
    fn convs(&self) -> impl Iterator<Item = &ConvInt8> {
        let layers = self.layers.iter().flatten().flat_map(|l| std::iter::once(&l.conv1).chain(&l.conv2));
        layers.chain(self.trans.iter().map(|t| &t.conv)).chain([&self.conv0, &self.fc])
    }
}

pub struct LayerQ {
    /// The layer's Concat output.
    pub cat: Q,
    /// norm1's ReLU output (conv1's input).
    pub relu: Q,
    /// conv1, into `mid`'s quantization (relu2's).
    pub conv1: ConvInt8,
    /// conv1's input maps, for packing its panels in one pass (None where
    /// the row loop runs: `BnReluMaps::new`).
    pub maps: Option<BnReluMaps>,
    pub mid: Q,
    /// The 3x3 conv in int8, over `mid`'s codes in bordered planes; None
    /// where it runs in f32 (`LayerW::conv2`, `quantized::conv3_int8`).
    pub conv2: Option<ConvInt8>,
    /// conv2's output quantization.
    pub conv2_out: Q,
}

pub struct TransQ {
    /// The block's last Concat output.
    pub cat: Q,
    /// The transition's ReLU output.
    pub relu: Q,
    /// The 1x1 conv.
    pub conv: ConvInt8,
    /// Its input maps, as `LayerQ::maps`.
    pub maps: Option<BnReluMaps>,
    /// Its output's quantization, which the average pool keeps.
    pub out: Q,
}

/// Activation buffers and per-thread scratch, kept between runs.
#[derive(Default)]
pub struct Workspace {
    stem: Vec<f32>,
    blocks: Vec<Vec<f32>>,
    mid: Vec<f32>,
    pooled: Vec<f32>,
    feats: Vec<f32>,
    logits: Vec<f32>,
    threads: Vec<ThreadWs>,
}

#[derive(Default)]
struct ThreadWs {
    /// GEMM panel scratch.
    scratch: Vec<f32>,
    /// The int8 GEMM's.
    s8: Scratch8,
    /// An int8 model's image, quantized.
    qin: Vec<u8>,
    /// Winograd chunk buffers.
    wino: Vec<f32>,
    /// The per-image stages' buffers of a thread that runs images alone
    /// (thread 0 uses the shared ones).
    stem: Vec<f32>,
    blocks: Vec<Vec<f32>>,
    mid: Vec<f32>,
    pooled: Vec<f32>,
}

fn sized(v: &mut Vec<f32>, len: usize) -> Ptr {
    grow::at_least(v, len);
    Ptr(v.as_mut_ptr())
}

#[derive(Clone)]
struct Bufs {
    stem: Ptr,
    blocks: Vec<Ptr>,
    mid: Ptr,
    pooled: Ptr,
    feats: Ptr,
    logits: Ptr,
}

unsafe fn slice<'a>(p: Ptr, len: usize) -> &'a [f32] {
    std::slice::from_raw_parts(p.0, len)
}

/// `len` codes of a block buffer (an int8 model's) from value `at`.
unsafe fn codes<'a>(block: Ptr, at: usize, len: usize) -> &'a mut [u8] {
    std::slice::from_raw_parts_mut((block.0 as *mut u8).add(at), len)
}

impl Net {
    pub fn classes(&self) -> usize {
        self.fc.m
    }

    pub fn weight_bytes(&self) -> usize {
        let mut b = self.stem.bytes() + self.fc.bytes() + self.n5_scale.len() * 8;
        if let Some(q) = &self.quant {
            b += q.convs().map(ConvInt8::bytes).sum::<usize>();
            let maps = q.layers.iter().flatten().map(|l| &l.maps).chain(q.trans.iter().map(|t| &t.maps));
            b += maps.flatten().map(BnReluMaps::bytes).sum::<usize>();
        }
        for blk in &self.blocks {
            for l in &blk.layers {
                b += l.conv1.bytes() + l.conv2.bytes() + l.scale.len() * 8;
            }
        }
        for t in &self.trans {
            b += t.conv.bytes() + t.scale.len() * 8;
        }
        b
    }

    /// Floats of the stem's buffer (one image). None where that overflows
    /// `usize`.
    fn stem_len(&self) -> Option<usize> {
        Some(self.buffer_floats(self.stem.cout().checked_mul(STEM_OUT * STEM_OUT)?))
    }

    /// Floats of block `b`'s buffer for `g` images. None where that
    /// overflows `usize`.
    fn block_len(&self, b: &BlockW, g: usize) -> Option<usize> {
        Some(self.buffer_floats(b.c_out.checked_mul(g)?.checked_mul(b.side * b.side)?))
    }

    /// Floats of a buffer of `values` activations: an int8 model's holds
    /// one byte (a code) per value.
    fn buffer_floats(&self, values: usize) -> usize {
        if self.quant.is_some() {
            values.div_ceil(4)
        } else {
            values
        }
    }

    /// Images that block `bi` holds at once: one where the maps are large (the
    /// working set then stays in cache), the whole batch where they are small
    /// (N = 196 or 49 per image is too narrow for the GEMM alone).
    fn group(&self, bi: usize, batch: usize) -> usize {
        let s = self.blocks[bi].side;
        if s * s >= self.fold_below {
            1
        } else {
            batch
        }
    }

    /// Bytes `forward` allocates for a run of `batch` images on `threads`
    /// threads at most: activations, per-thread scratch and the logits. The
    /// weights scale with the channels, these with channels x pixels, so a
    /// model whose weights fit its host can still need more than the host
    /// has for one run (a Worker isolate dies at 128 MB): `Loader` checks it.
    /// `usize::MAX` where the sum overflows (`checked_workspace_bytes`).
    pub fn workspace_bytes(&self, batch: usize, threads: usize) -> usize {
        self.checked_workspace_bytes(batch, threads).unwrap_or(usize::MAX)
    }

    /// [`Net::workspace_bytes`] in checked arithmetic: None where any size
    /// overflows `usize` (a hostile model's channels, or a huge batch, on a
    /// 32-bit target wraps otherwise, and a GEMM then writes past a buffer
    /// sized by the wrapped number). Every buffer length, offset and
    /// stride `forward` computes for these arguments is at most one of the
    /// terms summed here, so where this is Some, none of them overflows:
    /// `Engine::run` calls it before every forward pass.
    pub fn checked_workspace_bytes(&self, batch: usize, threads: usize) -> Option<usize> {
        let nb = self.blocks.len();
        let groups: Vec<usize> = (0..nb).map(|b| self.group(b, batch)).collect();
        let split = if batch == 1 { 0 } else { groups.iter().take_while(|&&g| g == 1).count() };
        let threads = threads.max(1);
        let solo = threads > 1 && split > 0 && batch >= threads;
        let stem = self.stem_len()?;
        let (mid, pooled) = self.checked_scratch_lens(&groups, 0..nb)?;
        let mut blocks = 0usize;
        for (b, &g) in self.blocks.iter().zip(&groups) {
            blocks = blocks.checked_add(self.block_len(b, g)?)?;
        }
        let feats = batch.checked_mul(self.fc.k)?;
        let logits = batch.checked_mul(self.classes())?.checked_mul(2)?;
        let mut floats = sum(&[stem, blocks, mid, pooled, feats, logits])?;
        if solo {
            let (mid, pooled) = self.checked_scratch_lens(&groups, 0..split)?;
            let mut blocks = 0usize;
            for b in &self.blocks[..split] {
                blocks = blocks.checked_add(self.block_len(b, 1)?)?;
            }
            let own = sum(&[stem, blocks, mid, pooled])?;
            floats = floats.checked_add((threads - 1).checked_mul(own)?)?;
        }
        // Per thread: a GEMM's packed B panel and tile (the widest K), the
        // Winograd chunks (largest with one thread: the fewest chunks), the
        // max pool's row.
        let kern = &self.kern;
        let mut k = self.fc.k.max(self.trans.iter().map(|t| t.conv.k).max().unwrap_or(0));
        k = k.max(match &self.stem {
            Stem::Winograd(w) => w.u[0].k,
            Stem::Im2col(a) => a.k,
        });
        for layer in self.blocks.iter().flat_map(|b| &b.layers) {
            k = k.max(layer.conv1.k).max(match &layer.conv2 {
                Conv3::Winograd(w) => w.cin,
                Conv3::Im2col(a) => a.k,
            });
        }
        let panel = k.checked_mul(kern.nr)?;
        let mut int8 = 0;
        if let Some(q) = &self.quant {
            int8 = q.convs().map(|c| c.scratch_bytes(&q.kern)).max().unwrap_or(0).div_ceil(4);
            // The image's codes, a pooled plane before its codes.
            int8 += (3 * IMAGE * IMAGE).div_ceil(4) + POOL_OUT * POOL_OUT;
        }
        let per_thread = sum(&[panel, kern.mr * kern.nr, self.wino_floats(&groups, 1)?, STEM_OUT, int8])?;
        floats = floats.checked_add(threads.checked_mul(per_thread)?)?;
        // And the run's bookkeeping: vectors of buffer pointers, the threads' state.
        floats.checked_mul(4)?.checked_add(16 << 10)
    }

    /// Lengths of the `mid` and `pooled` buffers for blocks `bis` holding
    /// `groups[bi]` images each; None if one overflows `usize`.
    fn checked_scratch_lens(&self, groups: &[usize], bis: std::ops::Range<usize>) -> Option<(usize, usize)> {
        let (mut mid, mut pooled) = (0usize, 0usize);
        for bi in bis {
            let (b, g) = (&self.blocks[bi], groups[bi]);
            let pixels = g.checked_mul(b.side * b.side)?;
            for (li, l) in b.layers.iter().enumerate() {
                mid = mid.max(l.conv1.m.checked_mul(pixels)?);
                // Before an int8 3x3 conv, conv1 writes bordered planes of u8
                // codes there; before an f32 one in an int8 model, the conv
                // writes its floats to `pooled` before their codes.
                match self.quant.as_ref().map(|q| (q.layers[bi][li].conv2.is_some(), &q.kern)) {
                    Some((true, k8)) => {
                        let plane = Bordered { side: b.side, g }.checked_plane()?;
                        // Quad planes: channels to a multiple of 4, and 4 NR
                        // bytes past the last that a last panel reads.
                        let bytes = match k8.quads {
                            Some(_) => l.conv1.m.next_multiple_of(4).checked_mul(plane)?.checked_add(4 * k8.nr)?,
                            None => l.conv1.m.checked_mul(plane)?,
                        };
                        mid = mid.max(bytes.div_ceil(4));
                    }
                    Some((false, _)) => pooled = pooled.max(l.conv2.cout().checked_mul(pixels)?),
                    None => {}
                }
            }
            if bi < self.trans.len() {
                pooled = pooled.max(b.c_out.checked_mul(g)?.checked_mul((b.side / 2) * (b.side / 2))?);
                // An int8 transition convolves before it pools, into `mid`.
                if self.quant.is_some() {
                    mid = mid.max(self.trans[bi].conv.m.checked_mul(pixels)?);
                }
            }
        }
        Some((mid, pooled))
    }

    /// The largest Winograd chunk buffer of a run on `nt` threads: the
    /// stem's, or a block's (as run image by image or with the block's
    /// group). None where a size overflows `usize`.
    fn wino_floats(&self, groups: &[usize], nt: usize) -> Option<usize> {
        let step = self.kern.col_step();
        let mut len = match &self.stem {
            Stem::Winograd(w) => stem::Plan::checked_buf_len(w.cout, nt, step)?,
            Stem::Im2col(_) => 0,
        };
        for (bi, blk) in self.blocks.iter().enumerate() {
            for layer in &blk.layers {
                if let Conv3::Winograd(w) = &layer.conv2 {
                    for g in [1, groups[bi]] {
                        len = len.max(winograd::Plan::checked_buf_len(w, blk.side, g, nt, step)?);
                    }
                }
            }
        }
        Some(len)
    }

    /// Logits [batch][classes] for images [batch][3][224][224].
    pub fn forward(&self, input: &[f32], batch: usize, threads: usize, ws: &mut Workspace) -> Vec<f32> {
        let nb = self.blocks.len();
        let groups: Vec<usize> = (0..nb).map(|b| self.group(b, batch)).collect();
        // Leading blocks that run image by image (all blocks run so at batch 1,
        // but then as the one group).
        let split = if batch == 1 { 0 } else { groups.iter().take_while(|&&g| g == 1).count() };
        let threads = threads.max(1);
        // Images that threads take alone through the per-image stages.
        let solo = if threads > 1 && split > 0 { batch - batch % threads } else { 0 };
        // Every size below is at most a term of `checked_workspace_bytes`,
        // which `Engine::run` checked for this batch and these threads.
        let (mid_len, pooled_len) = self.checked_scratch_lens(&groups, 0..nb).expect("sizes checked by Engine::run");
        ws.blocks.resize_with(nb, Vec::new);
        // Every value a step reads was written earlier in the same run, so
        // buffers kept from an earlier run need no clearing.
        let bufs = Bufs {
            stem: sized(&mut ws.stem, self.stem_len().expect("sizes checked by Engine::run")),
            blocks: ws
                .blocks
                .iter_mut()
                .zip(self.blocks.iter().zip(&groups))
                .map(|(v, (b, &g))| sized(v, self.block_len(b, g).expect("sizes checked by Engine::run")))
                .collect(),
            mid: sized(&mut ws.mid, mid_len),
            pooled: sized(&mut ws.pooled, pooled_len),
            feats: sized(&mut ws.feats, batch * self.fc.k),
            logits: sized(&mut ws.logits, self.classes() * batch),
        };
        ws.threads.resize_with(threads, Default::default);
        let barrier = Barrier::new(threads);
        let run = |t: usize, own: &mut ThreadWs| {
            // A thread's own buffers for its solo images: the shared ones
            // for thread 0, fresh ones (sized for one image) for the others.
            let mine = if solo > 0 && t > 0 {
                let (mid, pooled) = self.checked_scratch_lens(&groups, 0..split).expect("sizes checked by Engine::run");
                own.blocks.resize_with(split, Vec::new);
                let mut b = bufs.clone();
                b.stem = sized(&mut own.stem, self.stem_len().expect("sizes checked by Engine::run"));
                for (bi, v) in own.blocks.iter_mut().enumerate() {
                    let blk = &self.blocks[bi];
                    b.blocks[bi] = sized(v, self.block_len(blk, 1).expect("sizes checked by Engine::run"));
                }
                (b.mid, b.pooled) = (sized(&mut own.mid, mid), sized(&mut own.pooled, pooled));
                b
            } else {
                bufs.clone()
            };
            let mut ctx = Ctx {
                net: self,
                bufs: &bufs,
                groups: &groups,
                batch,
                t,
                nt: threads,
                barrier: &barrier,
                scratch: std::mem::take(&mut own.scratch),
                wino: std::mem::take(&mut own.wino),
                s8: std::mem::take(&mut own.s8),
                qin: std::mem::take(&mut own.qin),
            };
            unsafe { ctx.all(input, split, solo, &mine) };
            (own.scratch, own.wino, own.s8, own.qin) = (ctx.scratch, ctx.wino, ctx.s8, ctx.qin);
        };
        let (first, rest) = ws.threads.split_first_mut().unwrap();
        if threads == 1 {
            run(0, first);
        } else {
            std::thread::scope(|s| {
                for (i, own) in rest.iter_mut().enumerate() {
                    let run = &run;
                    s.spawn(move || run(i + 1, own));
                }
                run(0, first);
            });
        }
        drop(bufs);
        let classes = self.classes();
        let mut out = vec![0f32; batch * classes];
        for o in 0..classes {
            for b in 0..batch {
                out[b * classes + o] = ws.logits[o * batch + b];
            }
        }
        out
    }
}

/// Wall time per stage of thread 0 (`--features stages`): 0 the stem, 1 + i
/// dense block i with its transition (or the head).
pub mod stages {
    #[cfg(feature = "stages")]
    static SECS: std::sync::Mutex<[f64; 8]> = std::sync::Mutex::new([0.0; 8]);

    #[inline(always)]
    pub(super) fn time(on: bool, stage: usize, f: impl FnOnce()) {
        #[cfg(feature = "stages")]
        {
            let t = std::time::Instant::now();
            f();
            if on {
                SECS.lock().unwrap()[stage] += t.elapsed().as_secs_f64();
            }
        }
        #[cfg(not(feature = "stages"))]
        {
            let _ = (on, stage);
            f()
        }
    }

    /// The seconds summed so far, and resets them.
    #[cfg(feature = "stages")]
    pub fn take() -> [f64; 8] {
        std::mem::take(&mut *SECS.lock().unwrap())
    }
}

/// One thread's view of a forward pass.
struct Ctx<'a> {
    net: &'a Net,
    bufs: &'a Bufs,
    groups: &'a [usize],
    batch: usize,
    t: usize,
    nt: usize,
    barrier: &'a Barrier,
    scratch: Vec<f32>,
    /// Winograd chunk buffers (transformed input, then products).
    wino: Vec<f32>,
    s8: Scratch8,
    qin: Vec<u8>,
}

impl Ctx<'_> {
    fn panels(&self, n: usize) -> std::ops::Range<usize> {
        share(n.div_ceil(self.net.kern.nr), self.t, self.nt)
    }

    /// Where image `img`'s columns of block `bi`'s buffer start, and its row stride.
    fn place(&self, bi: usize, img: usize) -> (usize, usize) {
        let hw = self.net.blocks[bi].side * self.net.blocks[bi].side;
        let g = self.groups[bi];
        (if g == 1 { 0 } else { img * hw }, g * hw)
    }

    /// The whole network. Blocks `..split` run image by image; images
    /// `..solo` go through them one thread each (thread t takes t, t + nt,
    /// ...) in the buffers `mine`, the rest with every thread sharing each step.
    unsafe fn all(&mut self, input: &[f32], split: usize, solo: usize, mine: &Bufs) {
        let timed = self.t == 0;
        if solo > 0 {
            let one = Barrier::new(1);
            let mut alone = Ctx {
                bufs: mine,
                t: 0,
                nt: 1,
                barrier: &one,
                scratch: std::mem::take(&mut self.scratch),
                wino: std::mem::take(&mut self.wino),
                s8: std::mem::take(&mut self.s8),
                qin: std::mem::take(&mut self.qin),
                ..*self
            };
            for img in (self.t..solo).step_by(self.nt) {
                alone.image(input, img, split, timed);
            }
            (self.scratch, self.wino, self.s8, self.qin) = (alone.scratch, alone.wino, alone.s8, alone.qin);
            self.barrier.wait();
        }
        for img in solo..self.batch {
            self.image(input, img, split, timed);
        }
        for bi in split..self.net.blocks.len() {
            stages::time(timed, 1 + bi, || {
                self.block(bi, self.groups[bi]);
                self.transition_or_head(bi, self.groups[bi], 0);
            });
        }
        self.classifier();
    }

    /// Image `img` through the stem and blocks `..split`.
    unsafe fn image(&mut self, input: &[f32], img: usize, split: usize, timed: bool) {
        let image = &input[img * 3 * IMAGE * IMAGE..][..3 * IMAGE * IMAGE];
        match &self.net.quant {
            // An int8 model quantizes its input first.
            Some(q) => {
                let mut codes = std::mem::take(&mut self.qin);
                grow::to_len(&mut codes, image.len());
                (self.net.kern.q_quantize)(image, &mut codes, q.input);
                stages::time(timed, 0, || self.stem_int8(q, &codes, img));
                self.qin = codes;
            }
            None => stages::time(timed, 0, || self.stem(image, img)),
        }
        for bi in 0..split {
            stages::time(timed, 1 + bi, || {
                self.block(bi, 1);
                self.transition_or_head(bi, 1, img);
            });
        }
    }

    unsafe fn stem(&mut self, image: &[f32], img: usize) {
        let net = self.net;
        let (kern, nr) = (&net.kern, net.kern.nr);
        let n = STEM_OUT * STEM_OUT;
        match &net.stem {
            Stem::Winograd(w) => {
                let plan = stem::Plan::new(w.cout, self.nt, kern.col_step());
                // The chunk buffer at once at its largest, the blocks' F(4x4)
                // chunks included: grown in two steps (the stem's chunks
                // first), the first block would leave a hole the size of the
                // stem's in wasm memory, which never shrinks.
                // Checked by `checked_workspace_bytes` (with one thread: the largest).
                let len = net.wino_floats(self.groups, self.nt).unwrap_or(0);
                grow::at_least(&mut self.wino, len);
                let mine = share(plan.chunks, self.t, self.nt);
                let s = Scratch { chunks: &mut self.wino, panels: &mut self.scratch };
                stem::run((kern, w, &plan), image, mine, self.bufs.stem.0, s);
            }
            Stem::Im2col(a) => {
                let pack = |n0: usize, nc: usize, dst: &mut [f32]| {
                    gemm::pack_stem(image, (IMAGE, STEM_OUT), (n0, nc, nr), 0.0, dst)
                };
                gemm::gemm(
                    kern,
                    a,
                    n,
                    self.panels(n),
                    B::Pack(&pack),
                    Out { c: self.bufs.stem, ld: n, relu: true },
                    &mut self.scratch,
                );
            }
        }
        self.barrier.wait();
        self.stem_pool(img);
    }

    /// An int8 model's stem: conv0 as onnxruntime's QLinearConv on the
    /// image's codes (its im2col padded with the input's zero point; norm0
    /// folded in, the ReLU in the output's zero point 0), into the stem's
    /// buffer as codes, then pooled.
    unsafe fn stem_int8(&mut self, q: &Quant, codes: &[u8], img: usize) {
        let n = STEM_OUT * STEM_OUT;
        let zx = q.input.zero;
        let fill =
            |n0: usize, nc: usize, rows: &mut [u8]| gemm::pack_stem(codes, (IMAGE, STEM_OUT), (n0, nc, nc), zx, rows);
        let panels = share(n.div_ceil(q.kern.nr), self.t, self.nt);
        let out = Dst::Codes(Strided { ptr: Ptr8(self.bufs.stem.0 as *mut u8), ld: n });
        q.conv0.run(&q.kern, (n, panels), (fill, None), out, &mut self.s8);
        self.barrier.wait();
        self.stem_pool(img);
    }

    /// The stem's 3x3 / 2 max pool into block 1's buffer (an int8 model's
    /// on the codes: the ReLU's quantization is monotonic, and onnxruntime's
    /// quantized max pool keeps it).
    unsafe fn stem_pool(&mut self, img: usize) {
        let net = self.net;
        let n = STEM_OUT * STEM_OUT;
        let c0 = net.stem.cout();
        let (off, ld) = self.place(0, img);
        for c in share(c0, self.t, self.nt) {
            if net.quant.is_some() {
                let src = std::slice::from_raw_parts(self.bufs.stem.0 as *const u8, c0 * n);
                let dst = self.bufs.blocks[0].0 as *mut u8;
                maxpool3s2(&src[c * n..][..n], STEM_OUT, POOL_OUT, dst.add(c * ld + off));
            } else {
                let src = &slice(self.bufs.stem, c0 * n)[c * n..][..n];
                maxpool3s2(src, STEM_OUT, POOL_OUT, self.bufs.blocks[0].0.add(c * ld + off));
            }
        }
        self.barrier.wait();
    }

    /// The dense layers of block `bi` on the `g` images its buffer holds.
    unsafe fn block(&mut self, bi: usize, g: usize) {
        let net = self.net;
        let (kern, nr) = (&net.kern, net.kern.nr);
        let blk = &net.blocks[bi];
        let (side, buf) = (blk.side, self.bufs.blocks[bi]);
        let n = g * side * side;
        let mut c = blk.c_in;
        for (li, layer) in blk.layers.iter().enumerate() {
            // Only the channels written so far: later rows are written by the conv2s.
            let k = layer.conv1.k;
            match &net.quant {
                Some(q) => {
                    let inp = std::slice::from_raw_parts(buf.0 as *const u8, k * n);
                    let out = Ptr8((buf.0 as *mut u8).add(c * n));
                    let lq = &q.layers[bi][li];
                    self.layer_int8(&q.kern, layer, (lq, &q.codes[bi][..k]), inp, out, Bordered { side, g });
                }
                None => {
                    let (inp, out) = (slice(buf, k * n), Ptr(buf.0.add(c * n)));
                    let pack = |n0: usize, nc: usize, dst: &mut [f32]| {
                        (kern.bn_relu)(
                            inp,
                            n,
                            Bn { scale: &layer.scale, shift: &layer.shift },
                            Cols { n0, nc, nr },
                            dst,
                        )
                    };
                    gemm::gemm(
                        kern,
                        &layer.conv1,
                        n,
                        self.panels(n),
                        B::Pack(&pack),
                        Out { c: self.bufs.mid, ld: n, relu: true },
                        &mut self.scratch,
                    );
                    self.barrier.wait();
                    self.conv3(layer, (side, g), out);
                }
            }
            c += layer.conv2.cout();
            self.barrier.wait();
        }
    }

    /// A dense layer of an int8 model, both convs as onnxruntime's
    /// QLinearConv: conv1 on the block's channels `inp` (codes in the
    /// quantizations `codes`, through the layer's Concat quantization, BN
    /// and ReLU) into bordered planes of codes in `mid`, then the 3x3 conv
    /// on their windows into the block's next channels at `out`, as codes.
    /// Ends before the caller's barrier.
    unsafe fn layer_int8(
        &mut self,
        k8: &Int8Kernel,
        layer: &LayerW,
        (lq, codes): (&LayerQ, &[Q]),
        inp: &[u8],
        out: Ptr8,
        b: Bordered,
    ) {
        let kern = &self.net.kern;
        let n = b.g * b.side * b.side;
        let bn = Bn { scale: &layer.scale, shift: &layer.shift };
        let fill = |n0: usize, nc: usize, rows: &mut [u8]| {
            (kern.q_bn_relu)(inp, n, bn, Cols { n0, nc, nr: nc }, (codes, lq.cat, lq.relu), rows)
        };
        let panels = share(n.div_ceil(k8.nr), self.t, self.nt);
        let direct = lq.maps.as_ref().map(|maps| Direct { src: inp, ld: n, maps });
        let Some(conv2) = &lq.conv2 else {
            // conv2 in f32 into `pooled`, then quantized as its output's
            // QuantizeLinear does. A Winograd conv reads conv1's codes, its
            // output then in units of their scale, which the quantization
            // applies; an im2col one their dequantized values.
            let out_q = match &layer.conv2 {
                Conv3::Winograd(w) => {
                    let codes = Ptr8(self.bufs.mid.0 as *mut u8);
                    lq.conv1.run(
                        k8,
                        (n, panels),
                        (fill, direct),
                        Dst::Codes(Strided { ptr: codes, ld: n }),
                        &mut self.s8,
                    );
                    self.barrier.wait();
                    let mid = std::slice::from_raw_parts(codes.0 as *const u8, lq.conv1.a.m * n);
                    self.winograd(w, WinoInput::Codes(mid, lq.mid.zero), (b.side, b.g), self.bufs.pooled);
                    Q { scale: lq.conv2_out.scale / lq.mid.scale, ..lq.conv2_out }
                }
                Conv3::Im2col(_) => {
                    let mid = Dst::Rows(Strided { ptr: self.bufs.mid, ld: n });
                    lq.conv1.run(k8, (n, panels), (fill, direct), mid, &mut self.s8);
                    self.barrier.wait();
                    self.conv3(layer, (b.side, b.g), self.bufs.pooled);
                    lq.conv2_out
                }
            };
            self.barrier.wait();
            let floats = slice(self.bufs.pooled, layer.conv2.cout() * n);
            for ch in share(layer.conv2.cout(), self.t, self.nt) {
                let codes = std::slice::from_raw_parts_mut(out.0.add(ch * n), n);
                (kern.q_quantize)(&floats[ch * n..][..n], codes, out_q);
            }
            return;
        };
        let planes = Ptr8(self.bufs.mid.0 as *mut u8);
        let cm = lq.conv1.a.m;
        let (cols, out) = (b.cols(), Dst::FromBordered(b, Strided { ptr: out, ld: n }));
        if k8.quads.is_some() {
            // conv1's codes in quad planes, as the set stores B, which the
            // 3x3 conv reads in place.
            let flip = if k8.b_shift() == 128 { 0x80 } else { 0 };
            lq.conv1.run(k8, (n, panels), (fill, direct), Dst::BorderedQuads(b, planes, flip), &mut self.s8);
            for q in share(cm.div_ceil(4), self.t, self.nt) {
                let plane = std::slice::from_raw_parts_mut(planes.0.add(q * b.quad_plane()), b.quad_plane());
                b.fill_border_quads(plane, lq.mid.zero ^ flip);
            }
            self.barrier.wait();
            let panels = share(cols.div_ceil(k8.nr), self.t, self.nt);
            conv2.run_quads(k8, (cols, panels), (planes, b), out, &mut self.s8);
            return;
        }
        lq.conv1.run(k8, (n, panels), (fill, direct), Dst::Bordered(b, planes), &mut self.s8);
        for ch in share(cm, self.t, self.nt) {
            b.fill_border(std::slice::from_raw_parts_mut(planes.0.add(ch * b.plane()), b.plane()), lq.mid.zero);
        }
        self.barrier.wait();
        let all = std::slice::from_raw_parts(planes.0, cm * b.plane());
        let fill = |n0: usize, nc: usize, rows: &mut [u8]| b.windows(all, cm, n0, nc, rows);
        let panels = share(cols.div_ceil(k8.nr), self.t, self.nt);
        conv2.run(k8, (cols, panels), (fill, None), out, &mut self.s8);
    }

    /// A dense layer's 3x3 conv in f32, from `mid` (conv1's output: `g`
    /// images of `side` x `side`) into the block's channels at `out`.
    unsafe fn conv3(&mut self, layer: &LayerW, (side, g): (usize, usize), out: Ptr) {
        let (kern, nr) = (&self.net.kern, self.net.kern.nr);
        let cm = layer.conv1.m;
        let n = g * side * side;
        let mid = slice(self.bufs.mid, cm * n);
        match &layer.conv2 {
            Conv3::Im2col(a) => {
                let pack = |n0: usize, nc: usize, dst: &mut [f32]| {
                    gemm::pack_im2col3(mid, (cm, side), n, Cols { n0, nc, nr }, dst)
                };
                gemm::gemm(
                    kern,
                    a,
                    n,
                    self.panels(n),
                    B::Pack(&pack),
                    Out { c: out, ld: n, relu: false },
                    &mut self.scratch,
                );
            }
            Conv3::Winograd(w) => self.winograd(w, WinoInput::Floats(mid), (side, g), out),
        }
    }

    /// A Winograd 3x3 conv of `mid` ([Cin][g images][side][side]) into `out`
    /// (both g side^2 values per channel): each thread takes its share of
    /// the chunks. Ends before the caller's barrier.
    unsafe fn winograd(&mut self, w: &WinogradW, mid: WinoInput, (side, g): (usize, usize), out: Ptr) {
        let plan = winograd::Plan::new(w, side, g, self.nt, self.net.kern.col_step());
        let mine = share(plan.chunks, self.t, self.nt);
        let s = Scratch { chunks: &mut self.wino, panels: &mut self.scratch };
        winograd::run((&self.net.kern, w, &plan), (mid, g * side * side), mine, out.0, s);
    }

    /// After block `bi` (holding `g` images, the first being `img`): its
    /// transition into block bi+1's buffer, or norm5 + ReLU + global pool.
    unsafe fn transition_or_head(&mut self, bi: usize, g: usize, img: usize) {
        let net = self.net;
        if let Some(q) = &net.quant {
            return self.transition_or_head_int8(q, bi, g, img);
        }
        let kern = &net.kern;
        let blk = &net.blocks[bi];
        let side = blk.side;
        let n = g * side * side;
        let all = slice(self.bufs.blocks[bi], blk.c_out * n);
        let Some(tr) = net.trans.get(bi) else {
            let (hw, fc) = (side * side, net.fc.k);
            for plane in share(blk.c_out * g, self.t, self.nt) {
                let (ch, b) = (plane / g, plane % g);
                let (s, h) = (net.n5_scale[ch], net.n5_shift[ch]);
                let sum: f32 = all[ch * n + b * hw..][..hw].iter().map(|&x| relu(x * s + h)).sum();
                *self.bufs.feats.0.add((img + b) * fc + ch) = sum / hw as f32;
            }
            self.barrier.wait();
            return;
        };
        let (half, np) = (side / 2, g * (side / 2) * (side / 2));
        // BN, ReLU and the 2x2 average pool first: pooling commutes with the
        // 1x1 conv and leaves it 4x fewer columns.
        for plane in share(blk.c_out * g, self.t, self.nt) {
            let (ch, b) = (plane / g, plane % g);
            let src = &all[ch * n + b * side * side..][..side * side];
            let dst = self.bufs.pooled.0.add(ch * np + b * half * half);
            bn_relu_avgpool2(src, side, tr.scale[ch], tr.shift[ch], dst);
        }
        self.barrier.wait();
        let pooled = slice(self.bufs.pooled, blk.c_out * np);
        let (off, ld) = self.place(bi + 1, img);
        let out = Ptr(self.bufs.blocks[bi + 1].0.add(off));
        gemm::gemm(
            kern,
            &tr.conv,
            np,
            self.panels(np),
            B::Rows(pooled, np),
            Out { c: out, ld, relu: false },
            &mut self.scratch,
        );
        self.barrier.wait();
    }

    /// [`Ctx::transition_or_head`] of an int8 model, on the block's codes.
    unsafe fn transition_or_head_int8(&mut self, q: &Quant, bi: usize, g: usize, img: usize) {
        let net = self.net;
        let kern = &net.kern;
        let blk = &net.blocks[bi];
        let side = blk.side;
        let n = g * side * side;
        let quants = &q.codes[bi];
        let all = std::slice::from_raw_parts(self.bufs.blocks[bi].0 as *const u8, blk.c_out * n);
        let Some(tr) = net.trans.get(bi) else {
            let (hw, fc) = (side * side, net.fc.k);
            let [cat, relu, gap] = q.head;
            // The u8 sum, as onnxruntime's quantized global pool takes it.
            let mult = relu.scale / (gap.scale * hw as f32);
            let mut pooled = vec![0u8; hw];
            for plane in share(blk.c_out * g, self.t, self.nt) {
                let (ch, b) = (plane / g, plane % g);
                let bn = Bn { scale: &net.n5_scale[ch..=ch], shift: &net.n5_shift[ch..=ch] };
                let src = &all[ch * n + b * hw..][..hw];
                let q = (&quants[ch..=ch], cat, relu);
                (kern.q_bn_relu)(src, hw, bn, Cols { n0: 0, nc: hw, nr: hw }, q, &mut pooled);
                let sum: i32 = pooled.iter().map(|&c| i32::from(c)).sum();
                let sum = sum - i32::from(relu.zero) * hw as i32;
                let y = to_u8(sum as f32 * mult, gap.zero);
                *self.bufs.feats.0.add((img + b) * fc + ch) = gap.dequantize(y);
            }
            self.barrier.wait();
            return;
        };
        // Quantized, the conv's output is rounded before the pool: the conv
        // runs on every pixel, then the pool.
        let tq = &q.trans[bi];
        let bn = Bn { scale: &tr.scale, shift: &tr.shift };
        let fill = |n0: usize, nc: usize, rows: &mut [u8]| {
            (kern.q_bn_relu)(all, n, bn, Cols { n0, nc, nr: nc }, (quants, tq.cat, tq.relu), rows)
        };
        let panels = share(n.div_ceil(q.kern.nr), self.t, self.nt);
        let direct = tq.maps.as_ref().map(|maps| Direct { src: all, ld: n, maps });
        let mid = Dst::Rows(Strided { ptr: self.bufs.mid, ld: n });
        tq.conv.run(&q.kern, (n, panels), (fill, direct), mid, &mut self.s8);
        self.barrier.wait();
        let m = tq.conv.a.m;
        let conv = slice(self.bufs.mid, m * n);
        let (half, hw) = (side / 2, side * side);
        let (off, ld) = self.place(bi + 1, img);
        for plane in share(m * g, self.t, self.nt) {
            let (ch, b) = (plane / g, plane % g);
            let dst = codes(self.bufs.blocks[bi + 1], ch * ld + off + b * half * half, half * half);
            let pooled = self.s8.plane(half * half);
            avgpool2(&conv[ch * n + b * hw..][..hw], side, pooled);
            (kern.q_quantize)(pooled, dst, tq.out);
        }
        self.barrier.wait();
    }

    /// The classifier as a GEMM with the batch as N (one panel, usually):
    /// thread 0 alone, it is 0.04% of the network's multiply-adds.
    unsafe fn classifier(&mut self) {
        let net = self.net;
        let (kern, nr, fc, batch) = (&net.kern, net.kern.nr, net.fc.k, self.batch);
        if self.t != 0 {
            return;
        }
        let feats = slice(self.bufs.feats, batch * fc);
        if let Some(q) = &net.quant {
            // The pooled features are the global pool's dequantized values:
            // their codes back, image by image as B's columns.
            let gap = q.head[2];
            let fill = |n0: usize, nc: usize, rows: &mut [u8]| {
                for j in 0..nc {
                    for (kk, &v) in feats[(n0 + j) * fc..][..fc].iter().enumerate() {
                        rows[kk * nc + j] = gap.quantize(v);
                    }
                }
            };
            let panels = 0..batch.div_ceil(q.kern.nr);
            let logits = Dst::Rows(Strided { ptr: self.bufs.logits, ld: batch });
            q.fc.run(&q.kern, (batch, panels), (fill, None), logits, &mut self.s8);
            return;
        }
        let pack = |n0: usize, nc: usize, dst: &mut [f32]| {
            dst[..fc * nr].fill(0.0);
            for j in 0..nc {
                for (kk, &v) in feats[(n0 + j) * fc..(n0 + j + 1) * fc].iter().enumerate() {
                    dst[kk * nr + j] = v;
                }
            }
        };
        gemm::gemm(
            kern,
            &net.fc,
            batch,
            0..batch.div_ceil(nr),
            B::Pack(&pack),
            Out { c: self.bufs.logits, ld: batch, relu: false },
            &mut self.scratch,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::KernelKind;

    /// A plan with the given widths and no weights (only the sizes matter).
    fn net(c0: usize, c_out: usize, classes: usize) -> Net {
        let kern = KernelKind::Portable.kernel().unwrap();
        let a = |m: usize, k: usize| PackedA { m, k, mr: kern.mr, data: Vec::new(), bias: Vec::new() };
        let conv1 = a(1, c_out.min(4));
        let conv2 = Conv3::Im2col(a(1, 9));
        let layers = vec![LayerW { scale: Vec::new(), shift: Vec::new(), conv1, conv2 }];
        Net {
            kern,
            stem: Stem::Im2col(a(c0, 147)),
            blocks: vec![BlockW { c_in: c0, c_out, side: 7, layers }],
            trans: Vec::new(),
            n5_scale: Vec::new(),
            n5_shift: Vec::new(),
            fc: a(classes, c_out),
            fold_below: 784,
            quant: None,
        }
    }

    /// Sizes past `usize` are None (a hostile file's channels, a huge
    /// batch), not wrapped; `workspace_bytes` saturates.
    #[test]
    fn workspace_sizes_that_overflow_are_refused() {
        assert!(net(64, 1024, 1000).checked_workspace_bytes(8, 2).is_some());
        for n in [net(usize::MAX / 1000, 1024, 1000), net(64, usize::MAX / 40, 1000), net(64, 1024, usize::MAX / 2)] {
            assert_eq!(n.checked_workspace_bytes(1, 1), None);
            assert_eq!(n.workspace_bytes(1, 1), usize::MAX);
        }
        assert_eq!(net(64, 1024, 1000).checked_workspace_bytes(usize::MAX / 64, 1), None);
        assert_eq!(net(64, 1024, 1000).checked_workspace_bytes(1, usize::MAX / 64), None);
    }
}
