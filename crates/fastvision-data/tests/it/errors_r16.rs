//! Issue 16's errors that point at the real cause: a class only in validation, an empty `valid/` folder, an empty
//! or missing label group.

use fastvision_data::{DataBlock, Labeller, Splitter};

fn write(path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(8, 8, image::Rgb([9, 9, 9])).save(path).unwrap();
}

#[test]
fn a_class_only_in_valid_is_named_with_its_split_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["train/cat/1.png", "train/cat/2.png", "train/dog/3.png", "valid/cat/4.png", "valid/bird/5.png"] {
        write(&dir.path().join(name));
    }
    let block = DataBlock::builder().get_y(Labeller::ParentFolder).splitter(Splitter::grandparent()).build().unwrap();
    let message = block.dataloaders(dir.path(), 2).unwrap_err().to_string();
    for needle in ["\"bird\"", "only in the validation set", "5.png", "training images"] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
}

#[test]
fn an_empty_valid_folder_says_that_valid_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["train/cat/1.png", "train/dog/2.png"] {
        write(&dir.path().join(name));
    }
    std::fs::create_dir_all(dir.path().join("valid")).unwrap();
    let block = DataBlock::builder().get_y(Labeller::ParentFolder).splitter(Splitter::grandparent()).build().unwrap();
    let message = block.dataloaders(dir.path(), 2).unwrap_err().to_string();
    assert!(message.contains("no image is in a `valid/<class>/` folder (2 are in `train/<class>/`)"), "{message}");
}

#[test]
fn an_empty_or_missing_label_group_is_named() {
    let path = std::path::Path::new("images/_1.png");
    let empty = Labeller::regex_on_name(r"(.*)_\d+.png$").unwrap().label(path).unwrap_err().to_string();
    assert!(empty.contains("group 1 (the label) is empty") && empty.contains("_1.png"), "{empty}");
    let optional = Labeller::regex_on_name(r"(cat)?_\d+.png$").unwrap().label(path).unwrap_err().to_string();
    assert!(optional.contains("optional"), "{optional}");
    let other = Labeller::regex_on_name(r"(cat)_\d+.png$").unwrap().label(path).unwrap_err().to_string();
    assert!(other.contains("did not match"), "{other}");
}
