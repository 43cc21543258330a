//! PNG saving: atomic, decodable, same pixels, and a clear error for an impossible path.

use fastvision_plot::{encode_png, save_png, Rgb, RgbImage};

#[test]
fn saved_png_decodes_to_the_same_pixels() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut image = RgbImage::from_pixel(37, 21, Rgb([10, 200, 30]));
    image.put_pixel(5, 7, Rgb([1, 2, 3]));
    let path = dir.path().join("nested/folder/plot.png");
    save_png(&image, &path).expect("saving to a fresh nested folder");
    let decoded = image::open(&path).expect("the PNG must decode").to_rgb8();
    assert_eq!(decoded, image);
    let leftovers: Vec<_> = fastvision_core::fs::list_sorted(path.parent().unwrap()).unwrap();
    assert_eq!(leftovers.len(), 1, "no temporary file may be left behind");
    assert_eq!(encode_png(&image).expect("encoding"), std::fs::read(&path).unwrap());
}

#[test]
fn unwritable_path_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let blocker = dir.path().join("a_file");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let path = blocker.join("plot.png");
    let error = save_png(&RgbImage::new(4, 4), &path).expect_err("a file cannot be a folder");
    assert!(error.to_string().contains("a_file"), "the message must name the path: {error}");
}
