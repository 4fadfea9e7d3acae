//! Test-only traps, compiled only with the Cargo feature `test-trap`, which
//! the published package does not enable (scripts/build-web.sh builds it
//! separately, for tests/browser). An encoded input that starts with
//! `DENSENET-EDGE-TEST-TRAP:` makes the wasm instance trap inside a real
//! `classify` call, the way a bug would:
//!
//! - `panic`: a Rust panic, which is `RuntimeError: unreachable` (panic=abort);
//! - `oom`: allocations until wasm32's 4 GiB address space is exhausted,
//!   which aborts through Rust's allocation-error handler (also
//!   `unreachable`). Capacity only, so the host commits no pages.

pub const MAGIC: &[u8] = b"DENSENET-EDGE-TEST-TRAP:";

pub fn trap_if_asked(bytes: &[u8]) {
    let Some(kind) = bytes.strip_prefix(MAGIC) else { return };
    if kind.starts_with(b"panic") {
        panic!("test-trap: a deliberate panic");
    }
    if kind.starts_with(b"oom") {
        let mut held: Vec<Vec<u8>> = Vec::new();
        loop {
            held.push(Vec::with_capacity(256 << 20));
            std::hint::black_box(&held);
        }
    }
}
