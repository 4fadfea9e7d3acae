//! A CPU budget for decoding, shared by the images of one request, so that a
//! few cheap bytes cannot cost seconds of CPU: a 330-byte JPEG can claim
//! 40 megapixels, and a request can hold many of them.
//!
//! Work is counted in pixels: one pixel of work is what decoding and
//! resizing one pixel of a baseline JPEG costs. Each image states its work
//! from its header before it is decoded (`width * height`; a progressive or
//! multi-scan JPEG adds the block loops of its scans, read from its markers),
//! and is refused with [`Error::TooMuchWork`] when less is left.

use crate::error::{Error, Result};

/// What is left of a request's decode work, in pixels.
///
/// ```
/// use densenet_edge::WorkBudget;
/// let mut budget = WorkBudget::new(64_000_000);
/// budget.charge(12_000_000).unwrap();
/// assert_eq!((budget.used(), budget.left()), (12_000_000, 52_000_000));
/// // Refused: nothing is taken.
/// assert_eq!(budget.charge(60_000_000).unwrap_err().code(), "too_much_work");
/// assert_eq!(budget.left(), 52_000_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkBudget {
    /// None: unlimited.
    max: Option<u64>,
    used: u64,
}

impl WorkBudget {
    /// A budget of `max_pixels` pixels of decode work (the Worker's
    /// `MAX_DECODE_PIXELS`, 64 million by default: four 12 MP photos).
    pub fn new(max_pixels: u64) -> WorkBudget {
        WorkBudget { max: Some(max_pixels), used: 0 }
    }

    /// No limit; the work is still counted ([`WorkBudget::used`]).
    pub fn unlimited() -> WorkBudget {
        WorkBudget { max: None, used: 0 }
    }

    /// The budget, `None` when unlimited.
    pub fn max(&self) -> Option<u64> {
        self.max
    }

    /// Work taken so far, in pixels.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Work left, in pixels (`u64::MAX` when unlimited).
    pub fn left(&self) -> u64 {
        self.max.map_or(u64::MAX, |m| m.saturating_sub(self.used))
    }

    /// Takes `pixels` of work, or refuses with [`Error::TooMuchWork`]
    /// (taking nothing) when less is left.
    pub fn charge(&mut self, pixels: u64) -> Result<()> {
        self.charge_for(pixels, || "this image".into())
    }

    /// [`WorkBudget::charge`] for a `width x height` image, named in the message.
    pub(crate) fn charge_image(&mut self, width: u32, height: u32, pixels: u64) -> Result<()> {
        self.charge_for(pixels, || format!("this {width}x{height} image"))
    }

    fn charge_for(&mut self, pixels: u64, what: impl FnOnce() -> String) -> Result<()> {
        if let Some(max) = self.max {
            if pixels > self.left() {
                return Err(Error::TooMuchWork(format!(
                    "{} needs {pixels} pixels of decode work, more than the {} left of this request's budget of \
                     {max} ({} used by the images before it)",
                    what(),
                    self.left(),
                    self.used
                )));
            }
        }
        self.used = self.used.saturating_add(pixels);
        Ok(())
    }
}

impl Default for WorkBudget {
    /// Unlimited.
    fn default() -> Self {
        WorkBudget::unlimited()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_charge_takes_nothing() {
        let mut b = WorkBudget::new(10);
        b.charge(4).unwrap();
        let e = b.charge(7).unwrap_err();
        assert_eq!(e.code(), "too_much_work");
        assert_eq!(e.fault(), crate::Fault::Input);
        assert!(e.to_string().contains("needs 7 pixels"), "{e}");
        assert!(e.to_string().contains("the 6 left of this request's budget of 10 (4 used"), "{e}");
        assert_eq!((b.used(), b.left()), (4, 6));
        b.charge(6).unwrap();
        assert_eq!(b.left(), 0);
        b.charge(0).unwrap();
        assert!(b.charge(1).is_err());
    }

    #[test]
    fn unlimited_counts_without_refusing() {
        let mut b = WorkBudget::unlimited();
        b.charge(u64::MAX / 2).unwrap();
        b.charge(u64::MAX / 2).unwrap();
        assert_eq!(b.left(), u64::MAX);
        assert_eq!(b.max(), None);
        assert_eq!(b.used(), u64::MAX - 1);
    }
}
