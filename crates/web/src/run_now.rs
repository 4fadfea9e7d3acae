//! Exported async calls run synchronously as far as they can.
//!
//! `wasm_bindgen_futures::future_to_promise` first polls a future in a
//! microtask. If the wasm traps there (a panic, out of memory), the trap is
//! an uncaught exception of that microtask: the returned Promise never
//! settles and the caller cannot tell that the instance is broken. Polling
//! once inside the exported call instead makes a trap a synchronous
//! `WebAssembly.RuntimeError` thrown to the caller, who can then replace the
//! instance. The CPU engine (decode, preprocess, inference) never waits, so
//! all of its work happens in that first poll; only WebGPU work continues in
//! later polls.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use js_sys::Promise;
use wasm_bindgen::JsValue;

pub fn promise_now_or_later<F>(future: F) -> Promise
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    let mut future = Box::pin(future);
    // A no-op waker is enough: a pending future is handed to
    // future_to_promise, which polls it again with a real waker.
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(value)) => Promise::resolve(&value),
        Poll::Ready(Err(error)) => Promise::reject(&error),
        Poll::Pending => wasm_bindgen_futures::future_to_promise(future),
    }
}
