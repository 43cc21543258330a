//! A collated batch of images and targets, as the loaders produce it and the augmentation consumes it.

/// A batch: `images` is N×3×H×W (`u8` when presized, float after the batch transform), `targets` is N class ids
/// (`u32`), `item_ids` are indices into the split the batch came from, so any image can be traced back to its file.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// N×3×H×W images.
    pub images: candle::Tensor,
    /// N class ids.
    pub targets: candle::Tensor,
    /// Index of each image in its split.
    pub item_ids: Vec<usize>,
}

impl ImageBatch {
    /// Number of images in the batch.
    pub fn len(&self) -> usize {
        self.item_ids.len()
    }

    /// True for an empty batch.
    pub fn is_empty(&self) -> bool {
        self.item_ids.is_empty()
    }
}
