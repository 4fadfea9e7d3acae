//! The one clock every timing of the Worker reads: `Date.now()`, in ms
//! (`std::time::Instant` panics on wasm32-unknown-unknown).

pub fn now_ms() -> f64 {
    worker::js_sys::Date::now()
}
