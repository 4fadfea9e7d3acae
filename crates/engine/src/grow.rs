//! Growing a run's reused buffers to exactly the length a step needs.
//! `Vec::resize` alone rounds the capacity up (to twice the old one when
//! that is more), so a buffer that a run grows step by step could end up
//! holding more than `Engine::workspace_bytes` counts for it: a host that
//! budgets memory by that figure (a Worker isolate dies at 128 MB) must be
//! able to trust it.

/// `v.len()` set to `len`, allocating exactly `len` elements where it grows
/// past its capacity; new elements are `T::default()`.
pub fn to_len<T: Clone + Default>(v: &mut Vec<T>, len: usize) {
    if len > v.capacity() {
        v.reserve_exact(len - v.len());
    }
    v.resize(len, T::default());
}

/// [`to_len`] where `v` is shorter than `len`; a longer `v` stays as it is.
pub fn at_least<T: Clone + Default>(v: &mut Vec<T>, len: usize) {
    if v.len() < len {
        to_len(v, len);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn grows_to_exactly_the_length() {
        let mut v: Vec<f32> = Vec::new();
        for len in [640, 2304, 4608, 9216, 32768, 100] {
            super::at_least(&mut v, len);
            assert_eq!(v.capacity(), v.len().max(len));
        }
        assert_eq!(v.len(), 32768);
        super::to_len(&mut v, 100);
        assert_eq!((v.len(), v.capacity()), (100, 32768));
    }
}
