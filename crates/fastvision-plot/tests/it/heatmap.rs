//! Heat maps: shape checks, layout agrees with the image, the largest value is the darkest cell where it belongs.

use fastvision_plot::{Heatmap, HeatmapLayout};

use crate::support::{dark_pixels, mean_luminance};

fn labels(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn three_by_three(values: Vec<f64>) -> Heatmap {
    Heatmap {
        title: "Confusion matrix".into(),
        row_labels: labels(&["a", "b", "c"]),
        col_labels: labels(&["a", "b", "c"]),
        cell_text: values.iter().map(|v| format!("{v}")).collect(),
        values,
        x_label: "Predicted".into(),
        y_label: "Actual".into(),
        color_bar: true,
        ..Default::default()
    }
}

fn cell(layout: &HeatmapLayout, row: usize, col: usize) -> (u32, u32, u32, u32) {
    let (x, y, side, _) = layout.cell_rect(row, col);
    (x, y, side - 1, side - 1)
}

#[test]
fn shape_mismatch_is_an_error() {
    let mut heatmap = three_by_three(vec![0.0; 9]);
    assert!(heatmap.check().is_ok());
    heatmap.values.pop();
    let message = heatmap.check().expect_err("8 values for 3×3 must be rejected").to_string();
    assert!(message.contains("expected 9") && message.contains("got 8"), "message: {message}");
    heatmap.values.push(0.0);
    heatmap.cell_text.truncate(2);
    assert!(heatmap.check().is_err(), "cell_text of the wrong length must be rejected");
    // Rendering never panics, even on a mismatch.
    let image = heatmap.render();
    assert_eq!(image.dimensions(), (heatmap.layout().width, heatmap.layout().height));
}

#[test]
fn largest_value_is_the_darkest_cell_at_its_row_and_column() {
    let heatmap = three_by_three(vec![1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 9.0, 0.0, 3.0]);
    let layout = heatmap.layout();
    let image = heatmap.render();
    assert_eq!(image.dimensions(), (layout.width, layout.height));
    let mut means = Vec::new();
    for row in 0..3 {
        for col in 0..3 {
            means.push(((row, col), mean_luminance(&image, cell(&layout, row, col))));
        }
    }
    let darkest = means.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map(|m| m.0);
    assert_eq!(darkest, Some((2, 0)), "row 2 (third row down), column 0 (left) must be darkest: {means:?}");
    // Rows go down: the cell below row 0 is lower in the image.
    assert!(layout.cell_rect(2, 0).1 > layout.cell_rect(0, 0).1 && layout.cell_rect(0, 2).0 > layout.cell_rect(0, 0).0);
}

#[test]
fn cell_text_is_drawn_in_contrasting_ink() {
    let heatmap = three_by_three(vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0]);
    let layout = heatmap.layout();
    let image = heatmap.render();
    let pale = cell(&layout, 0, 0);
    assert!(dark_pixels(&image, pale, 100.0) > 5, "black text '0' must show on a pale cell");
    let (x, y, w, h) = cell(&layout, 2, 2);
    let light_on_dark = (y..y + h)
        .flat_map(|yy| (x..x + w).map(move |xx| (xx, yy)))
        .filter(|&(xx, yy)| crate::support::luminance(&image, xx, yy) > 200.0)
        .count();
    assert!(light_on_dark > 5, "white text '10' must show on the darkest cell, found {light_on_dark} light pixels");
}

#[test]
fn many_long_labels_rotate_columns_and_stay_inside() {
    let names: Vec<String> = (0..37).map(|i| format!("american_pit_bull_terrier_{i}")).collect();
    let heatmap = Heatmap {
        row_labels: names.clone(),
        col_labels: names,
        values: (0..37 * 37).map(|i| (i % 7) as f64).collect(),
        cell_text: (0..37 * 37).map(|i| format!("{}", i % 7)).collect(),
        ..Default::default()
    };
    let layout = heatmap.layout();
    assert!(layout.rotated_col_labels, "long column labels must be rotated");
    assert!(layout.cell_px >= 24 && layout.label_px >= 11, "legible sizes: {layout:?}");
    let image = heatmap.render();
    let grid_bottom = layout.grid_top + 37 * layout.cell_px;
    let below = dark_pixels(&image, (layout.grid_left, grid_bottom + 2, 37 * layout.cell_px, 150), 128.0);
    assert!(below > 37 * 40, "rotated column labels must leave ink under the table, got {below}");
    let left = dark_pixels(&image, (0, layout.grid_top, layout.grid_left - 2, 37 * layout.cell_px), 128.0);
    assert!(left > 37 * 40, "row labels must leave ink left of the table, got {left}");
}

#[test]
fn constant_values_do_not_divide_by_zero() {
    let image = three_by_three(vec![4.0; 9]).render();
    assert!(image.width() > 100);
}
