//! The planned network and its forward pass.
//!
//! Activations are channel-major with the batch inside: [C][B*H*W]. A 1x1
//! conv is then one GEMM with N = B*H*W (the batch folded into N, so weights
//! are reused across images), and each dense block owns one buffer of all its
//! channels that every layer appends its growth channels to: no Concat copy.
//!
//! Threads run the same plan (SPMD): each takes its share of every GEMM's
//! column panels or of every pooling's planes, and a barrier separates steps.

use crate::gemm::{self, share, PackedA, Ptr};
use crate::kernels::Kernel;
use std::sync::Barrier;

pub const IMAGE: usize = 224;
pub const STEM_OUT: usize = 112;
pub const POOL_OUT: usize = 56;

pub struct LayerW {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    /// conv1 1x1 with norm2 folded in (bias), ReLU epilogue.
    pub conv1: PackedA,
    /// conv2 3x3, K = bottleneck * 9.
    pub conv2: PackedA,
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
    pub stem: PackedA,
    pub blocks: Vec<BlockW>,
    pub trans: Vec<TransW>,
    pub n5_scale: Vec<f32>,
    pub n5_shift: Vec<f32>,
    pub fc: PackedA,
}

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

impl Net {
    pub fn classes(&self) -> usize {
        self.fc.m
    }

    pub fn weight_bytes(&self) -> usize {
        let mut b = self.stem.bytes() + self.fc.bytes() + self.n5_scale.len() * 8;
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

    /// Logits [batch][classes] for images [batch][3][224][224].
    pub fn forward(&self, input: &[f32], batch: usize, threads: usize) -> Vec<f32> {
        let stem_c = self.stem.m;
        let mut stem = vec![0f32; stem_c * batch * STEM_OUT * STEM_OUT];
        let mut blocks: Vec<Vec<f32>> =
            self.blocks.iter().map(|b| vec![0f32; b.c_out * batch * b.side * b.side]).collect();
        let mid_len = self
            .blocks
            .iter()
            .flat_map(|b| b.layers.iter().map(move |l| l.conv1.m * batch * b.side * b.side))
            .max()
            .unwrap_or(0);
        let mut mid = vec![0f32; mid_len];
        let pooled_len = self
            .blocks
            .iter()
            .zip(&self.trans)
            .map(|(b, _)| b.c_out * batch * (b.side / 2) * (b.side / 2))
            .max()
            .unwrap_or(0);
        let mut pooled = vec![0f32; pooled_len];
        let feat_c = self.fc.k;
        let mut feats = vec![0f32; batch * feat_c];
        let mut logits_t = vec![0f32; self.classes() * batch];
        let bufs = Bufs {
            stem: Ptr(stem.as_mut_ptr()),
            blocks: blocks.iter_mut().map(|b| Ptr(b.as_mut_ptr())).collect(),
            mid: Ptr(mid.as_mut_ptr()),
            pooled: Ptr(pooled.as_mut_ptr()),
            feats: Ptr(feats.as_mut_ptr()),
            logits: Ptr(logits_t.as_mut_ptr()),
        };
        let threads = threads.max(1);
        let barrier = Barrier::new(threads);
        if threads == 1 {
            unsafe { self.step(input, batch, &bufs, 0, 1, &barrier) };
        } else {
            std::thread::scope(|s| {
                for t in 1..threads {
                    let (bufs, barrier) = (&bufs, &barrier);
                    s.spawn(move || unsafe { self.step(input, batch, bufs, t, threads, barrier) });
                }
                unsafe { self.step(input, batch, &bufs, 0, threads, &barrier) };
            });
        }
        drop(bufs);
        let classes = self.classes();
        let mut out = vec![0f32; batch * classes];
        for o in 0..classes {
            for b in 0..batch {
                out[b * classes + o] = logits_t[o * batch + b];
            }
        }
        out
    }

    /// Thread `t` of `nt`'s part of the whole network.
    unsafe fn step(&self, input: &[f32], batch: usize, bufs: &Bufs, t: usize, nt: usize, barrier: &Barrier) {
        let kern = &self.kern;
        let nr = kern.nr;
        let mut scratch = Vec::new();
        let panels = |n: usize| share(n.div_ceil(nr), t, nt);

        // Stem: conv0 (norm0 folded) + ReLU, then the 3x3/2 max pool into block 1's buffer.
        let n = batch * STEM_OUT * STEM_OUT;
        let pack = |n0: usize, nc: usize, dst: &mut [f32]| gemm::pack_stem(input, IMAGE, STEM_OUT, n0, nc, nr, dst);
        gemm::gemm(kern, &self.stem, n, panels(n), &pack, bufs.stem, n, true, &mut scratch);
        barrier.wait();
        let b0 = &self.blocks[0];
        let stem = slice(bufs.stem, self.stem.m * n);
        let ld0 = batch * b0.side * b0.side;
        for plane in share(self.stem.m * batch, t, nt) {
            let (c, b) = (plane / batch, plane % batch);
            let src = &stem[c * n + b * STEM_OUT * STEM_OUT..][..STEM_OUT * STEM_OUT];
            let dst = bufs.blocks[0].0.add(c * ld0 + b * POOL_OUT * POOL_OUT);
            maxpool3s2(src, STEM_OUT, POOL_OUT, dst);
        }
        barrier.wait();

        for (bi, blk) in self.blocks.iter().enumerate() {
            let (side, buf) = (blk.side, bufs.blocks[bi]);
            let n = batch * side * side;
            let mut c = blk.c_in;
            for layer in &blk.layers {
                // Only the channels written so far: later rows are being written by conv2s.
                let inp = slice(buf, layer.conv1.k * n);
                let pack = |n0: usize, nc: usize, dst: &mut [f32]| {
                    gemm::pack_bn_relu(inp, n, &layer.scale, &layer.shift, n0, nc, nr, dst)
                };
                gemm::gemm(kern, &layer.conv1, n, panels(n), &pack, bufs.mid, n, true, &mut scratch);
                barrier.wait();
                let mid = slice(bufs.mid, layer.conv1.m * n);
                let cm = layer.conv1.m;
                let pack = |n0: usize, nc: usize, dst: &mut [f32]| gemm::pack_im2col3(mid, cm, side, side, n, n0, nc, nr, dst);
                let out = Ptr(buf.0.add(c * n));
                gemm::gemm(kern, &layer.conv2, n, panels(n), &pack, out, n, false, &mut scratch);
                c += layer.conv2.m;
                barrier.wait();
            }
            let all = slice(buf, blk.c_out * n);
            if let Some(tr) = self.trans.get(bi) {
                // BN, ReLU and the 2x2 average pool first: pooling commutes with
                // the 1x1 conv and leaves it 4x fewer columns.
                let (half, np) = (side / 2, batch * (side / 2) * (side / 2));
                for plane in share(blk.c_out * batch, t, nt) {
                    let (ch, b) = (plane / batch, plane % batch);
                    let src = &all[ch * n + b * side * side..][..side * side];
                    let dst = bufs.pooled.0.add(ch * np + b * half * half);
                    bn_relu_avgpool2(src, side, tr.scale[ch], tr.shift[ch], dst);
                }
                barrier.wait();
                let pooled = slice(bufs.pooled, blk.c_out * np);
                let k = blk.c_out;
                let pack = |n0: usize, nc: usize, dst: &mut [f32]| gemm::pack_plain(pooled, np, k, n0, nc, nr, dst);
                gemm::gemm(kern, &tr.conv, np, panels(np), &pack, bufs.blocks[bi + 1], np, false, &mut scratch);
                barrier.wait();
            }
        }

        // Head: norm5 + ReLU + global average pool, then the classifier as a GEMM
        // with the batch as N.
        let last = self.blocks.last().unwrap();
        let (hw, fc) = (last.side * last.side, self.fc.k);
        let n = batch * hw;
        let all = slice(*bufs.blocks.last().unwrap(), last.c_out * n);
        for plane in share(last.c_out * batch, t, nt) {
            let (ch, b) = (plane / batch, plane % batch);
            let (s, h) = (self.n5_scale[ch], self.n5_shift[ch]);
            let sum: f32 = all[ch * n + b * hw..][..hw].iter().map(|&x| (x * s + h).max(0.0)).sum();
            *bufs.feats.0.add(b * fc + ch) = sum / hw as f32;
        }
        barrier.wait();
        let feats = slice(bufs.feats, batch * fc);
        let pack = |n0: usize, nc: usize, dst: &mut [f32]| {
            dst[..fc * nr].fill(0.0);
            for j in 0..nc {
                for (kk, &v) in feats[(n0 + j) * fc..(n0 + j + 1) * fc].iter().enumerate() {
                    dst[kk * nr + j] = v;
                }
            }
        };
        // N is the batch, usually one panel: split the classes across threads instead.
        if t == 0 {
            gemm::gemm(kern, &self.fc, batch, 0..batch.div_ceil(nr), &pack, bufs.logits, batch, false, &mut scratch);
        }
    }
}

/// 3x3 max pool, stride 2, padding 1 (padding never wins: every window holds a real pixel).
unsafe fn maxpool3s2(src: &[f32], hin: usize, hout: usize, dst: *mut f32) {
    for oy in 0..hout {
        let y0 = (2 * oy).saturating_sub(1);
        let y1 = (2 * oy + 2).min(hin);
        for ox in 0..hout {
            let x0 = (2 * ox).saturating_sub(1);
            let x1 = (2 * ox + 2).min(hin);
            let mut m = f32::NEG_INFINITY;
            for y in y0..y1 {
                for &v in &src[y * hin + x0..y * hin + x1] {
                    m = m.max(v);
                }
            }
            *dst.add(oy * hout + ox) = m;
        }
    }
}

unsafe fn bn_relu_avgpool2(src: &[f32], side: usize, s: f32, h: f32, dst: *mut f32) {
    let half = side / 2;
    let f = |x: f32| (x * s + h).max(0.0);
    for oy in 0..half {
        let r0 = &src[2 * oy * side..];
        let r1 = &src[(2 * oy + 1) * side..];
        for ox in 0..half {
            let v = f(r0[2 * ox]) + f(r0[2 * ox + 1]) + f(r1[2 * ox]) + f(r1[2 * ox + 1]);
            *dst.add(oy * half + ox) = v * 0.25;
        }
    }
}
