//! A named data set's labelling and split as `fastvision-data`'s `Labeller` and `Splitter`, so that a data set
//! from `untar_data` becomes a `DataBlock` in one call, the same one `fastvision train --dataset` builds.

use fastvision_data::{DataBlock, DataBlockBuilder, Labeller, Splitter};

use crate::error::{Error, Result};
use crate::registry::{Dataset, Labelling, Preset, SplitRule};

impl Labelling {
    /// The labeller this labelling describes; a regex that does not compile is [`Error::Labelling`].
    pub fn labeller(&self) -> Result<Labeller> {
        match self {
            Self::ParentFolder => Ok(Labeller::ParentFolder),
            Self::Regex(pattern) => Labeller::regex_on_name(pattern)
                .map_err(|source| Error::Labelling { pattern: pattern.clone(), source: Box::new(source) }),
        }
    }
}

impl SplitRule {
    /// The splitter this rule describes: fastai's `RandomSplitter` or `GrandparentSplitter`.
    pub fn splitter(&self) -> Splitter {
        match self {
            Self::Random { valid_pct, seed } => Splitter::random(*valid_pct, *seed),
            Self::Folders { train, valid } => {
                Splitter::Grandparent { train_name: train.clone(), valid_name: valid.clone() }
            }
        }
    }
}

impl Preset {
    /// A `DataBlock` builder with this preset's labeller and splitter (and fastai's other defaults): add the
    /// item and batch transforms, then `build`, and read the images from [`Preset::images`] under the extracted
    /// folder.
    pub fn datablock(&self) -> Result<DataBlockBuilder> {
        Ok(DataBlock::builder().get_y(self.labelling.labeller()?).splitter(self.split.splitter()))
    }
}

impl Dataset {
    /// [`Preset::datablock`] of this data set's preset.
    ///
    /// ```no_run
    /// use fastvision_datasets::{untar_data, Dataset, UntarConfig};
    ///
    /// let pets = Dataset::by_name("pets")?;
    /// let root = untar_data(&pets, &UntarConfig::from_env()?, &mut |_| {})?;
    /// let block = pets.datablock()?.build()?;
    /// let dls = block.dataloaders(&root.join(&pets.preset.images), 64)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn datablock(&self) -> Result<DataBlockBuilder> {
        self.preset.datablock()
    }
}
