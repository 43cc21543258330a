//! The pictures and files: confusion-matrix orientation (the known cell is the darkest region, in line with its
//! row label), top-losses grid with captions, and `write_outputs`.

use fastvision_interpret::ConfusionCells;
use fastvision_plot::image::{self, Rgb, RgbImage};

use crate::support::interp;

/// Class 3 (the long name) is mistaken for class 0 twenty times: cell (actual 3, predicted 0) must be darkest.
fn skewed() -> fastvision_interpret::ClassificationInterpretation {
    let names = ["ant", "bee", "cat", "dog_with_a_very_long_breed_name"];
    let mut targets = Vec::new();
    let mut predicted = Vec::new();
    for class in 0..4u32 {
        targets.extend([class; 5]);
        predicted.extend([class; 5]);
    }
    targets.extend([3; 20]);
    predicted.extend([0; 20]);
    targets.extend([1, 2]);
    predicted.extend([2, 1]);
    interp(&names, &targets, &predicted)
}

fn luminance_image(image: &RgbImage) -> Vec<f64> {
    image.pixels().map(|p| 0.2126 * p[0] as f64 + 0.7152 * p[1] as f64 + 0.0722 * p[2] as f64).collect()
}

/// Top-left corner of the `side × side` window with the lowest mean luminance anywhere in the image.
fn darkest_window(image: &RgbImage, side: u32) -> (u32, u32) {
    let (w, h) = image.dimensions();
    let lum = luminance_image(image);
    // Summed-area table, one extra row and column of zeros.
    let mut sat = vec![0.0; ((w + 1) * (h + 1)) as usize];
    for y in 0..h {
        for x in 0..w {
            let i = ((y + 1) * (w + 1) + x + 1) as usize;
            sat[i] = lum[(y * w + x) as usize] + sat[i - 1] + sat[i - (w + 1) as usize] - sat[i - (w + 2) as usize];
        }
    }
    let at = |x: u32, y: u32| sat[(y * (w + 1) + x) as usize];
    let mut best = (f64::INFINITY, (0, 0));
    for y in 0..=h - side {
        for x in 0..=w - side {
            let sum = at(x + side, y + side) - at(x, y + side) - at(x + side, y) + at(x, y);
            if sum < best.0 {
                best = (sum, (x, y));
            }
        }
    }
    best.1
}

#[test]
fn confusion_png_orientation_darkest_cell_is_actual_row_predicted_column() {
    let interp = skewed();
    assert_eq!(interp.confusion_matrix().count(3, 0), 20);
    let heatmap = interp.confusion_heatmap(ConfusionCells::Counts);
    let layout = heatmap.layout();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confusion_matrix.png");
    interp.plot_confusion_matrix(ConfusionCells::Counts, &path).expect("plotting");
    let image = image::open(&path).expect("PNG decodes").to_rgb8();
    assert_eq!(image.dimensions(), (layout.width, layout.height));

    // Search the whole picture, not just the cells, so a transposed or misplaced table cannot pass.
    let side = layout.cell_px - 1;
    let (x, y) = darkest_window(&image, side);
    let (cx, cy) = (x + side / 2, y + side / 2);
    let (cell_x, cell_y, cell_side, _) = layout.cell_rect(3, 0);
    assert!(
        (cell_x..cell_x + cell_side).contains(&cx) && (cell_y..cell_y + cell_side).contains(&cy),
        "darkest {side}px window centred at ({cx}, {cy}); cell (actual 3, predicted 0) spans \
         x {cell_x}.., y {cell_y}.. (size {cell_side}); layout {layout:?}"
    );
    // The long row label belongs to class 3: far-left ink (right of the rotated "Actual") only in row 3's band.
    let far_left = |row: usize| {
        let (_, top, side, _) = layout.cell_rect(row, 0);
        (top..top + side)
            .flat_map(|yy| (40..layout.grid_left / 2).map(move |xx| (xx, yy)))
            .filter(|&(xx, yy)| image.get_pixel(xx, yy).0[0] < 100)
            .count()
    };
    assert!(
        far_left(3) > 20 && far_left(0) == 0 && far_left(1) == 0,
        "row labels misaligned: {:?}",
        (0..4).map(far_left).collect::<Vec<_>>()
    );
}

#[test]
fn normalised_plot_shows_two_decimals() {
    let heatmap = skewed().confusion_heatmap(ConfusionCells::Normalized);
    assert_eq!(heatmap.cell_text[3 * 4], "0.80", "20 of 25 dogs predicted as ants");
    assert_eq!(heatmap.value_range, Some((0.0, 1.0)));
    assert_eq!(skewed().confusion_heatmap(ConfusionCells::Counts).cell_text[3 * 4], "20");
}

#[test]
fn top_losses_grid_has_fastai_captions_and_pictures() {
    let interp = interp(&["beagle", "pug"], &[0, 1, 0, 1], &[1, 1, 0, 0]);
    let top = interp.top_losses(2);
    let item = interp.item(top[0].1).unwrap();
    let names = ["beagle", "pug"];
    let caption = format!(
        "{}/{} / {:.2} / {:.2}",
        names[item.predicted as usize], names[item.actual as usize], item.loss, item.probability
    );
    assert_eq!(caption, "pug/beagle / 1.61 / 0.80");
    let mut asked = Vec::new();
    let image = interp
        .render_top_losses(2, |item_id| {
            asked.push(item_id);
            Ok::<_, std::io::Error>(RgbImage::from_pixel(50, 40, Rgb([250, 0, 0])))
        })
        .expect("rendering");
    assert_eq!(asked, vec![top[0].1, top[1].1], "pictures are requested by item id, highest loss first");
    let red = image.pixels().filter(|p| p[0] > 240 && p[1] < 10 && p[2] < 10).count();
    assert_eq!(red, 2 * 224 * 179, "two 50×40 pictures scaled into 224-px cells");
    let dark = image.pixels().filter(|p| p[0] < 100 && p[1] < 100 && p[2] < 100).count();
    assert!(dark > 300, "title and captions must draw ink, got {dark} dark pixels");
}

#[test]
fn write_outputs_writes_every_file() {
    let interp = skewed();
    let dir = tempfile::tempdir().unwrap();
    let written = interp
        .write_outputs_with_images(dir.path(), 4, |_| Ok::<_, String>(RgbImage::from_pixel(30, 30, Rgb([0, 0, 200]))))
        .expect("writing outputs");
    let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["confusion_matrix.png", "most_confused.json", "classification_report.txt", "top_losses.png"]);
    for png in ["confusion_matrix.png", "top_losses.png"] {
        let decoded = image::open(dir.path().join(png)).unwrap_or_else(|e| panic!("{png} must decode: {e}"));
        assert!(decoded.width() > 200 && decoded.height() > 200, "{png}: {}×{}", decoded.width(), decoded.height());
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("most_confused.json")).unwrap()).unwrap();
    assert_eq!(json["min_val"], 1);
    assert_eq!(json["pairs"][0]["actual"], "dog_with_a_very_long_breed_name");
    assert_eq!(json["pairs"][0]["predicted"], "ant");
    assert_eq!(json["pairs"][0]["count"], 20);
    let report = std::fs::read_to_string(dir.path().join("classification_report.txt")).unwrap();
    assert!(report.contains("weighted avg"), "{report}");
    let table = interp.most_confused_table(1);
    assert!(
        table.lines().nth(1).is_some_and(|l| l.contains("dog_with_a_very_long_breed_name") && l.ends_with("20")),
        "{table}"
    );
}
