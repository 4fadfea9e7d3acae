//! Running prepared images through the engine, alone or coalesced.
//!
//! Coalescing (COALESCE=true): the images of concurrent requests in this
//! isolate go into one queue. The first request to find no batch running
//! becomes the leader: it waits up to BATCH_WAIT_MS for others to join
//! (unless MAX_BATCH images are already queued), runs up to MAX_BATCH queued
//! images as one engine batch, hands every image its answer, then steps down;
//! the waiting requests look on their own timers, and one with images still
//! queued leads next.
//! The engine run is synchronous (on the isolate's only thread), so
//! requests arriving during a batch are queued by the runtime and join the
//! next one.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use densenet_edge::{Classification, Crop, Result as CrateResult};
use serde::Serialize;

use crate::clock::now_ms;
use crate::config::Config;
use crate::memory;
use crate::model::LoadedModel;

/// One image's answer and the engine batch it rode in.
pub struct Classified {
    pub result: CrateResult<Classification>,
    /// Images in the engine run that answered this one.
    pub batch_size: usize,
    /// That engine run's time, ms.
    pub engine_ms: f64,
}

type Slot = Rc<RefCell<Option<Classified>>>;

struct Job {
    image: Crop,
    top_k: usize,
    slot: Slot,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    leader: bool,
}

/// How often a waiting request looks whether its answers are in or the
/// leader stepped down. Nothing runs during an engine batch anyway (it holds
/// the isolate's thread), so this only bounds the delay after one.
const POLL_MS: u64 = 2;

thread_local! {
    static QUEUE: RefCell<Queue> = RefCell::new(Queue::default());
    static STATS: Cell<Stats> = const { Cell::new(Stats { runs: 0, images: 0, wasm_bytes_after_last: None, last_size: None }) };
}

/// Engine runs in this isolate, for `/health`.
#[derive(Clone, Copy, Serialize)]
pub struct Stats {
    pub runs: u64,
    pub images: u64,
    /// wasm memory after the most recent engine run, and its batch size.
    pub wasm_bytes_after_last: Option<u64>,
    pub last_size: Option<usize>,
}

pub fn stats() -> Stats {
    STATS.get()
}

fn record_batch(size: usize) {
    let s = STATS.get();
    STATS.set(Stats {
        runs: s.runs + 1,
        images: s.images + size as u64,
        wasm_bytes_after_last: Some(memory::wasm_bytes()),
        last_size: Some(size),
    });
}

/// Answers for `prepared`, in order; errors pass through untouched.
pub async fn classify(
    model: &LoadedModel,
    prepared: Vec<CrateResult<Crop>>,
    top_k: usize,
    config: &Config,
) -> Vec<Classified> {
    if config.coalesce {
        coalesced(model, prepared, top_k, config).await
    } else {
        alone(model, prepared, top_k).await
    }
}

/// This request's images only, as one engine run (the caller passes at most
/// MAX_BATCH).
async fn alone(model: &LoadedModel, prepared: Vec<CrateResult<Crop>>, top_k: usize) -> Vec<Classified> {
    let good = prepared.iter().filter(|p| p.is_ok()).count();
    let t0 = now_ms();
    let batched = model.classifier.classify_in_batches(prepared, top_k).await;
    let engine_ms = now_ms() - t0;
    if good > 0 {
        record_batch(good);
    }
    batched.into_iter().map(|b| Classified { result: b.result, batch_size: b.batch_size, engine_ms }).collect()
}

async fn coalesced(
    model: &LoadedModel,
    prepared: Vec<CrateResult<Crop>>,
    top_k: usize,
    config: &Config,
) -> Vec<Classified> {
    let mut answers: Vec<Result<Slot, densenet_edge::Error>> = Vec::with_capacity(prepared.len());
    QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        for p in prepared {
            answers.push(p.map(|image| {
                let slot: Slot = Rc::new(RefCell::new(None));
                q.jobs.push_back(Job { image, top_k, slot: slot.clone() });
                slot
            }));
        }
    });
    loop {
        if answers.iter().all(|a| a.as_ref().map_or(true, |s| s.borrow().is_some())) {
            break;
        }
        let lead = QUEUE.with(|q| {
            let mut q = q.borrow_mut();
            let lead = !q.leader && !q.jobs.is_empty();
            q.leader |= lead;
            lead
        });
        if lead {
            let _guard = Leader;
            if config.batch_wait_ms > 0 && QUEUE.with(|q| q.borrow().jobs.len()) < config.load_limits.max_batch {
                worker::Delay::from(Duration::from_millis(config.batch_wait_ms.into())).await;
            }
            run_batch(model, config.load_limits.max_batch).await;
        } else {
            // Poll on a timer of our own: being woken by the leader would run
            // this request's code in the leader's request context, and
            // workerd cancels a request that has nothing of its own pending
            // as hung ("your Worker's code had hung").
            worker::Delay::from(Duration::from_millis(POLL_MS)).await;
        }
    }
    answers
        .into_iter()
        .map(|a| match a {
            Ok(slot) => slot.borrow_mut().take().unwrap_or_else(|| Classified {
                result: Err(densenet_edge::Error::Inference("the batch ended without an answer for this image".into())),
                batch_size: 0,
                engine_ms: 0.0,
            }),
            Err(e) => Classified { result: Err(e), batch_size: 0, engine_ms: 0.0 },
        })
        .collect()
}

async fn run_batch(model: &LoadedModel, max_batch: usize) {
    let jobs: Vec<Job> = QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        let n = q.jobs.len().min(max_batch);
        q.jobs.drain(..n).collect()
    });
    if jobs.is_empty() {
        return;
    }
    // One top-k list long enough for every request; each keeps its prefix.
    let k = jobs.iter().map(|j| j.top_k).max().unwrap_or(1);
    let (images, metas): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (Ok(j.image), (j.top_k, j.slot))).unzip();
    let t0 = now_ms();
    let batched = model.classifier.classify_in_batches(images, k).await;
    let engine_ms = now_ms() - t0;
    record_batch(batched.len());
    for (b, (top_k, slot)) in batched.into_iter().zip(metas) {
        let mut result = b.result;
        if let Ok(c) = &mut result {
            c.predictions.truncate(top_k);
        }
        *slot.borrow_mut() = Some(Classified { result, batch_size: b.batch_size, engine_ms });
    }
}

/// Steps down as leader, also when the leading request is dropped midway.
struct Leader;

impl Drop for Leader {
    fn drop(&mut self) {
        QUEUE.with(|q| q.borrow_mut().leader = false);
    }
}
