//! Admission control for one isolate, in two steps. While its body arrives,
//! a request holds only bytes: those it has really received so far (plus a
//! small fixed charge for the request itself), all of them together at most
//! INFLIGHT_BYTES; a body that would take more is answered 503
//! `overloaded`. So connections that send headers and then stall hold almost
//! nothing, until BODY_IDLE_MS ends them (body.rs). Once its body is
//! complete, a request takes one of MAX_INFLIGHT places for the CPU work,
//! or is answered 503 `overloaded`. Admitted requests take turns at that
//! work (decode, resize, engine) oldest first: it is synchronous, one
//! request at a time.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::errors::ApiError;

/// How often a request waiting for its turn looks again. Each waits on a
/// timer of its own: workerd cancels as hung a request whose only pending
/// work is another request's.
const POLL_MS: u64 = 2;

#[derive(Default, Serialize, Clone)]
pub struct Stats {
    /// Requests whose body is still arriving.
    pub reading: usize,
    /// Requests with a complete body, admitted and not yet answered.
    pub inflight: usize,
    /// Bytes held by both (bodies received so far and the fixed charge per request).
    pub inflight_bytes: usize,
    /// Of those, waiting for their turn at the CPU.
    pub waiting: usize,
    pub peak_inflight: usize,
    pub peak_inflight_bytes: usize,
    pub admitted: u64,
    pub rejected: u64,
    /// Bodies ended by BODY_IDLE_MS or BODY_DEADLINE_MS (408 `body_timeout`).
    pub body_timeouts: u64,
    /// Moving average of one request's CPU turn (decode + engine), ms.
    pub turn_ms: f64,
}

#[derive(Default)]
struct State {
    stats: Stats,
    next_ticket: u64,
    ready: BTreeSet<u64>,
    busy: bool,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// What one request holds of INFLIGHT_BYTES for its whole life: a fixed
/// charge for the request itself (its JS objects and futures), and then its
/// body's bytes.
const REQUEST_BYTES: usize = 4 << 10;

/// A request whose body is arriving; dropping it gives its bytes back.
pub struct Reading {
    bytes: usize,
}

/// Starts reading a request, or says when to come back.
pub fn start_reading(config: &Config) -> Result<Reading, ApiError> {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.charge(REQUEST_BYTES, config)?;
        s.stats.reading += 1;
        Ok(Reading { bytes: REQUEST_BYTES })
    })
}

impl Reading {
    /// Charges the body's bytes received so far (`bytes` in all, replacing
    /// the previous charge), or refuses them.
    pub fn charge(&mut self, bytes: usize, config: &Config) -> Result<(), ApiError> {
        let more = (REQUEST_BYTES + bytes).saturating_sub(self.bytes);
        STATE.with(|s| s.borrow_mut().charge(more, config))?;
        self.bytes += more;
        Ok(())
    }

    /// The body is complete: takes a place for the CPU work, keeping the
    /// bytes, or refuses the request (its bytes are given back on drop).
    pub fn admit(mut self, config: &Config) -> Result<Permit, ApiError> {
        let bytes = std::mem::take(&mut self.bytes);
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.stats.reading -= 1;
            if s.stats.inflight >= config.max_inflight {
                s.stats.inflight_bytes -= bytes;
                let why = format!("{} requests in progress, at most {}", s.stats.inflight, config.max_inflight);
                return Err(s.overloaded(why));
            }
            let st = &mut s.stats;
            st.inflight += 1;
            st.admitted += 1;
            st.peak_inflight = st.peak_inflight.max(st.inflight);
            s.next_ticket += 1;
            Ok(Permit { ticket: s.next_ticket, bytes })
        })
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        // `admit` took the bytes (and the count) over into a Permit.
        if self.bytes > 0 {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.stats.reading -= 1;
                s.stats.inflight_bytes -= self.bytes;
            });
        }
    }
}

/// Counts a body ended by one of its deadlines.
pub fn count_body_timeout() {
    STATE.with(|s| s.borrow_mut().stats.body_timeouts += 1);
}

impl State {
    fn charge(&mut self, bytes: usize, config: &Config) -> Result<(), ApiError> {
        let st = &mut self.stats;
        if st.inflight_bytes + bytes > config.inflight_bytes {
            let why = format!(
                "{} bytes held by requests in progress, this one needs {bytes} more, at most {} in all",
                st.inflight_bytes, config.inflight_bytes
            );
            return Err(self.overloaded(why));
        }
        st.inflight_bytes += bytes;
        st.peak_inflight_bytes = st.peak_inflight_bytes.max(st.inflight_bytes);
        Ok(())
    }

    fn overloaded(&mut self, why: String) -> ApiError {
        let st = &mut self.stats;
        st.rejected += 1;
        // Time for the requests ahead to finish their turns.
        let wait_s = (st.inflight as f64 * st.turn_ms.max(500.0) / 1000.0).ceil().clamp(1.0, 60.0);
        ApiError::new(503, "overloaded", format!("the Worker is busy ({why}); retry later"))
            .with_retry_after(wait_s as u32)
    }
}

/// A request with its body, admitted to the CPU work; dropping it
/// (answered, or the client went away) gives its place and bytes back.
pub struct Permit {
    ticket: u64,
    bytes: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.stats.inflight -= 1;
            s.stats.inflight_bytes -= self.bytes;
            s.ready.remove(&self.ticket);
        });
    }
}

impl Permit {
    /// Waits until this is the oldest admitted request ready for the CPU and
    /// no other holds it.
    pub async fn turn(&self) -> Turn {
        STATE.with(|s| s.borrow_mut().ready.insert(self.ticket));
        loop {
            let mine = STATE.with(|s| {
                let mut s = s.borrow_mut();
                let mine = !s.busy && s.ready.first() == Some(&self.ticket);
                if mine {
                    s.busy = true;
                    s.ready.remove(&self.ticket);
                }
                s.stats.waiting = s.ready.len();
                mine
            });
            if mine {
                return Turn { started_ms: worker::js_sys::Date::now() };
            }
            worker::Delay::from(Duration::from_millis(POLL_MS)).await;
        }
    }
}

/// The CPU is this request's until dropped.
pub struct Turn {
    started_ms: f64,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let ms = worker::js_sys::Date::now() - self.started_ms;
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.busy = false;
            let avg = &mut s.stats.turn_ms;
            *avg = if *avg == 0.0 { ms } else { 0.8 * *avg + 0.2 * ms };
        });
    }
}

pub fn stats() -> Stats {
    STATE.with(|s| s.borrow().stats.clone())
}
