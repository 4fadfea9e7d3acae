//! The barrier between the steps a run's threads share. `std::sync::Barrier`
//! puts a waiting thread to sleep on a futex: waking it takes tens of
//! microseconds on a VM, and a DenseNet-121 run crosses hundreds of
//! barriers whose steps take about as long (at batch 1 on a Zen 5, 2
//! threads took longer than 1). This one spins first, as the threads
//! arrive within microseconds of each other, and yields the core only when
//! a thread is late (more threads than cores).

use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Barrier {
    n: usize,
    arrived: AtomicUsize,
    /// Bumped by the last thread to arrive: the others wait for it to move.
    generation: AtomicUsize,
}

/// Spins before a waiting thread yields its core (about 10-50 us).
const SPINS: u32 = 1 << 14;

impl Barrier {
    pub fn new(n: usize) -> Barrier {
        Barrier { n, arrived: AtomicUsize::new(0), generation: AtomicUsize::new(0) }
    }

    /// Returns once all `n` threads have called it.
    pub fn wait(&self) {
        if self.n <= 1 {
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            // Reset before the release: a thread that sees the new
            // generation and reaches the next barrier counts from 0.
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0;
        while self.generation.load(Ordering::Acquire) == generation {
            if spins < SPINS {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Barrier;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn no_thread_passes_a_step_before_all_have_finished_the_one_before() {
        for n in [1, 2, 3, 5] {
            let (barrier, done) = (Barrier::new(n), AtomicUsize::new(0));
            std::thread::scope(|s| {
                for _ in 0..n {
                    s.spawn(|| {
                        for step in 0..500 {
                            done.fetch_add(1, Ordering::SeqCst);
                            barrier.wait();
                            // Every thread finished this step's work, none the next's.
                            assert!(done.load(Ordering::SeqCst) >= (step + 1) * n);
                            barrier.wait();
                            assert!(done.load(Ordering::SeqCst) <= (step + 1) * n);
                            barrier.wait();
                        }
                    });
                }
            });
            assert_eq!(done.into_inner(), 500 * n);
        }
    }
}
