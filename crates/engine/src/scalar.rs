//! max and ReLU as a compare and select. `f32::max` is a call to `fmaxf` in
//! wasm (its NaN rule has no wasm instruction), which kept the loops that use
//! it scalar: the stem's max pool and conv1's BN + ReLU packing among them.

/// max(a, b); where `b` is NaN the result is `a`, as with `f32::max`.
#[inline(always)]
pub fn max(a: f32, b: f32) -> f32 {
    if b > a {
        b
    } else {
        a
    }
}

/// max(0, x); 0 for NaN, as `x.max(0.0)`.
#[inline(always)]
pub fn relu(x: f32) -> f32 {
    max(0.0, x)
}
