//! How a request's images meet the engine: alone or coalesced, and how
//! many per engine run. [`classify`] is the one place that decides both;
//! `predict.rs` hands it the request's files.
//!
//! Alone (COALESCE=false): the request's files are decoded and run MAX_BATCH
//! at a time during its turn at the CPU, so one run's crops are alive at
//! once, whatever the number of files.
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
//!
//! MAX_BATCH reaches this module as the classifier's `max_batch` (the
//! Config's `LoadLimits`, which the engine's workspace was checked at):
//! every group made here is at most that, so the classifier runs it as one
//! engine run.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use densenet_edge::{Classification, Crop, Result as CrateResult, WorkBudget};
use serde::Serialize;

use crate::admission::Permit;
use crate::clock::now_ms;
use crate::config::Config;
use crate::memory;
use crate::model::LoadedModel;
use crate::multipart::FilePart;

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

/// The most a 224x224 crop (RGB8) holds while queued for a coalesced batch.
const CROP_BYTES: usize = 224 * 224 * 3;

/// What a request holds of the admission budget beyond its body once it is
/// complete: with coalescing, room for its crops in the shared queue, where
/// they outlive its turn at the CPU; alone, nothing (its crops live only
/// during its turn, and turns are one at a time).
pub fn queued_bytes(config: &Config) -> usize {
    if config.coalesce {
        config.max_files * CROP_BYTES
    } else {
        0
    }
}

/// One request's answers, one per file in order, and where its time went.
pub struct Done {
    pub classified: Vec<Classified>,
    /// Decoding, resizing and cropping, ms.
    pub prepare_ms: f64,
    /// When the request's turn at the CPU began (`now_ms`).
    pub turn_started_ms: f64,
}

/// Decodes and classifies one request's files, in turn with the other
/// admitted requests, alone or coalesced (see the module). Their decode work
/// shares one budget, MAX_DECODE_PIXELS; an image that fails gets its error
/// and takes no place in an engine run.
pub async fn classify(
    model: &LoadedModel,
    files: &[FilePart<'_>],
    top_k: usize,
    permit: &Permit,
    config: &Config,
) -> Done {
    let max_batch = model.classifier.options().max_batch;
    let mut budget = WorkBudget::new(config.max_decode_pixels);
    let turn = permit.turn().await;
    let turn_started_ms = now_ms();
    if config.coalesce {
        // The crops wait in the shared queue; the batch leader runs the engine.
        let prepared: Vec<_> = files.iter().map(|f| model.classifier.prepare_within(f.bytes, &mut budget)).collect();
        drop(turn);
        let prepare_ms = now_ms() - turn_started_ms;
        let classified = coalesced(model, prepared, top_k, max_batch, config.batch_wait_ms).await;
        return Done { classified, prepare_ms, turn_started_ms };
    }
    let mut classified = Vec::with_capacity(files.len());
    let mut prepare_ms = 0.0;
    for chunk in files.chunks(max_batch) {
        let t = now_ms();
        let prepared: Vec<_> = chunk.iter().map(|f| model.classifier.prepare_within(f.bytes, &mut budget)).collect();
        prepare_ms += now_ms() - t;
        classified.extend(alone(model, prepared, top_k).await);
    }
    drop(turn);
    Done { classified, prepare_ms, turn_started_ms }
}

/// This request's images only, as one engine run (at most `max_batch`).
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
    max_batch: usize,
    batch_wait_ms: u32,
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
            if batch_wait_ms > 0 && QUEUE.with(|q| q.borrow().jobs.len()) < max_batch {
                worker::Delay::from(Duration::from_millis(batch_wait_ms.into())).await;
            }
            run_batch(model, max_batch).await;
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
