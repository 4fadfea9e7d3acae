//! Admission control for one isolate: at most MAX_INFLIGHT requests at once,
//! whose bodies together hold at most INFLIGHT_BYTES; one more is answered
//! 503 `overloaded` with a Retry-After, by us, before it costs any memory.
//! Admitted requests then take turns at the CPU work (decode, resize,
//! engine) oldest first: that work is synchronous, one request at a time.

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
    /// Requests admitted and not yet answered, and the bytes they hold.
    pub inflight: usize,
    pub inflight_bytes: usize,
    /// Of those, waiting for their turn at the CPU.
    pub waiting: usize,
    pub peak_inflight: usize,
    pub peak_inflight_bytes: usize,
    pub admitted: u64,
    pub rejected: u64,
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

/// An admitted request; dropping it (answered, or the client went away)
/// gives its place and bytes back.
pub struct Permit {
    ticket: u64,
    bytes: usize,
}

/// Admits a request that may hold `bytes`, or says when to come back.
pub fn admit(bytes: usize, config: &Config) -> Result<Permit, ApiError> {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let st = &mut s.stats;
        if st.inflight >= config.max_inflight || st.inflight_bytes + bytes > config.inflight_bytes {
            st.rejected += 1;
            let why = if st.inflight >= config.max_inflight {
                format!("{} requests in progress, at most {}", st.inflight, config.max_inflight)
            } else {
                format!(
                    "{} bytes held by requests in progress, this one may need {bytes}, at most {} in all",
                    st.inflight_bytes, config.inflight_bytes
                )
            };
            // Time for the requests ahead to finish their turns.
            let wait_s = (st.inflight as f64 * st.turn_ms.max(500.0) / 1000.0).ceil().clamp(1.0, 60.0);
            return Err(ApiError::new(503, "overloaded", format!("the Worker is busy ({why}); retry later"))
                .with_retry_after(wait_s as u32));
        }
        st.inflight += 1;
        st.inflight_bytes += bytes;
        st.admitted += 1;
        st.peak_inflight = st.peak_inflight.max(st.inflight);
        st.peak_inflight_bytes = st.peak_inflight_bytes.max(st.inflight_bytes);
        s.next_ticket += 1;
        Ok(Permit { ticket: s.next_ticket, bytes })
    })
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
