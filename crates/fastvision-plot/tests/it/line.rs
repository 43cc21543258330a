//! Line plots: size, series and markers drawn in their colours, log axis robustness, labels leave ink.

use fastvision_plot::color::palette;
use fastvision_plot::{LinePlot, Marker, Rgb, Series};

use crate::support::{dark_pixels, pixels_near};

fn lr_curve() -> (Vec<f64>, Vec<f64>) {
    let lrs: Vec<f64> = (0..60).map(|i| 1e-6 * 10f64.powf(i as f64 / 10.0)).collect();
    let losses = lrs.iter().map(|lr| 2.5 - 0.2 * lr.log10() + 0.5 * lr.log10().powi(2) / 10.0).collect();
    (lrs, losses)
}

#[test]
fn renders_requested_size_with_series_colours() {
    let (lrs, losses) = lr_curve();
    let plot = LinePlot {
        title: "lr_find".into(),
        x_label: "Learning Rate".into(),
        y_label: "Loss".into(),
        log_x: true,
        series: vec![
            Series { color: Some(Rgb([0, 0, 255])), ..Series::new("loss", lrs.clone(), losses.clone()) },
            Series {
                color: Some(Rgb([0, 200, 0])),
                ..Series::new("shifted", lrs, losses.iter().map(|l| l + 1.0).collect())
            },
        ],
        markers: vec![Marker { color: Some(Rgb([255, 0, 0])), ..Marker::new("valley", 1e-3, 2.7) }],
    };
    let image = plot.render(640, 400);
    assert_eq!(image.dimensions(), (640, 400));
    assert!(pixels_near(&image, [0, 0, 255], 10) > 200, "first series must be drawn in its colour");
    assert!(pixels_near(&image, [0, 200, 0], 10) > 200, "second series must be drawn in its colour");
    assert!(pixels_near(&image, [255, 0, 0], 10) > 50, "the marker must be drawn in its colour");
}

#[test]
fn labels_and_ticks_draw_ink() {
    let (lrs, losses) = lr_curve();
    let bare =
        LinePlot { log_x: true, series: vec![Series::new("", lrs.clone(), losses.clone())], ..Default::default() };
    let labelled =
        LinePlot { title: "A title".into(), x_label: "Learning Rate".into(), y_label: "Loss".into(), ..bare.clone() };
    let (bare, labelled) = (bare.render(500, 300), labelled.render(500, 300));
    // The frame starts 10 px down without a title and below the title band with one.
    assert_eq!(dark_pixels(&bare, (0, 0, 500, 9), 100.0), 0, "nothing above the frame without a title");
    assert!(dark_pixels(&labelled, (0, 0, 500, 28), 100.0) > 50, "the title must draw ink above the frame");
    // The y label takes a 10..35 px band at the left; tick labels move right of it.
    assert_eq!(dark_pixels(&bare, (0, 0, 11, 300), 100.0), 0, "nothing left of the tick labels without a y label");
    assert!(dark_pixels(&labelled, (0, 0, 32, 300), 100.0) > 30, "the y label must draw ink at the left");
    // Tick labels (1e-6 … 0.1) lie under the frame even without axis labels.
    assert!(dark_pixels(&bare, (0, 260, 500, 40), 100.0) > 100, "x tick labels must draw ink");
}

#[test]
fn bad_points_are_skipped_not_fatal() {
    let plot = LinePlot {
        log_x: true,
        series: vec![Series::new(
            "mixed",
            vec![-1.0, 0.0, 1e-3, f64::NAN, 1e-2, 1e-1, f64::INFINITY],
            vec![1.0, 2.0, 3.0, 4.0, f64::NAN, 2.0, 1.0],
        )],
        markers: vec![Marker::new("nan", f64::NAN, 1.0), Marker::new("negative", -3.0, 1.0)],
        ..Default::default()
    };
    let image = plot.render(300, 200);
    assert!(pixels_near(&image, palette(0).0, 10) > 5, "the finite, positive points must still be drawn");
}

#[test]
fn empty_and_tiny_plots_render() {
    let empty = LinePlot::default().render(0, 0);
    assert_eq!(empty.dimensions(), (200, 150), "sizes are clamped to at least 200×150");
    let single = LinePlot { series: vec![Series::new("one", vec![5.0], vec![5.0])], ..Default::default() };
    assert!(pixels_near(&single.render(300, 200), palette(0).0, 10) > 5, "a one-point series draws a dot");
    let flat = LinePlot { series: vec![Series::new("flat", vec![1.0, 2.0, 3.0], vec![7.0; 3])], ..Default::default() };
    assert!(pixels_near(&flat.render(300, 200), palette(0).0, 10) > 50, "a flat series is drawn mid-height");
}
