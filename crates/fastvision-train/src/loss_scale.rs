//! Dynamic loss scaling for f16 mixed precision, as PyTorch's `GradScaler` (which fastai's `to_fp16()` uses):
//! the loss is multiplied by the scale before backward so that small gradients survive f16's range; a step whose
//! gradients overflowed is skipped and the scale halved; after `growth_interval` good steps in a row the scale
//! doubles. bf16 has f32's range and needs none of this.

/// The scale and its history.
#[derive(Debug, Clone, PartialEq)]
pub struct LossScaler {
    scale: f64,
    growth_interval: usize,
    good_steps: usize,
    skipped: usize,
}

impl Default for LossScaler {
    /// PyTorch's defaults: 2¹⁶, doubling after 2000 good steps.
    fn default() -> Self {
        Self::new(65536.0, 2000)
    }
}

impl LossScaler {
    /// A scaler starting at `scale` (a power of two keeps the scaling exact).
    pub fn new(scale: f64, growth_interval: usize) -> Self {
        Self { scale, growth_interval: growth_interval.max(1), good_steps: 0, skipped: 0 }
    }

    /// The factor the loss is multiplied by before backward.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Steps skipped so far because their gradients overflowed.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Records one backward pass: `finite` when every gradient was finite. Returns whether the step should be
    /// taken (with the gradients divided by the scale the loss had), and updates the scale for the next one.
    pub fn update(&mut self, finite: bool) -> bool {
        if !finite {
            self.scale = (self.scale / 2.0).max(1.0);
            self.good_steps = 0;
            self.skipped += 1;
            return false;
        }
        self.good_steps += 1;
        if self.good_steps == self.growth_interval {
            self.scale *= 2.0;
            self.good_steps = 0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::LossScaler;

    #[test]
    fn overflow_halves_and_skips_growth_doubles() {
        let mut s = LossScaler::new(1024.0, 3);
        assert!(s.update(true));
        assert!(s.update(true));
        assert!(!s.update(false), "an overflow skips the step");
        assert_eq!((s.scale(), s.skipped()), (512.0, 1));
        assert!(s.update(true) && s.update(true) && s.update(true));
        assert_eq!(s.scale(), 1024.0, "three good steps in a row double it");
        let mut floor = LossScaler::new(1.0, 10);
        assert!(!floor.update(false));
        assert_eq!(floor.scale(), 1.0, "never below 1");
    }
}
