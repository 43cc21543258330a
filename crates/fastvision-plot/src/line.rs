//! Line plots with an optional log-x axis, several series and labelled markers (lr_find, loss curves).

use image::{Rgb, RgbImage};

use crate::color::{palette, AXIS_GREY, BLACK, GRID_GREY, WHITE};
use crate::draw::{draw_line, fill_circle, fill_rect, stroke_rect};
use crate::text::{draw_text, draw_text_styled, fit_text, line_height, text_width, Direction, Weight};
use crate::ticks::{format_linear, format_log, linear_step, linear_ticks, log_ticks};

const TICK_PX: f32 = 12.0;
const LABEL_PX: f32 = 14.0;
const TITLE_PX: f32 = 16.0;

/// A line chart: fastai's `plot_lr_find` (loss against learning rate on a log axis, suggestions marked) or
/// `plot_loss`. Build it as a literal with `..Default::default()` and call [`LinePlot::render`].
#[derive(Debug, Clone, Default)]
pub struct LinePlot {
    /// Title drawn above the plot (empty for none).
    pub title: String,
    /// Label under the x axis, e.g. "Learning Rate".
    pub x_label: String,
    /// Label beside the y axis, e.g. "Loss".
    pub y_label: String,
    /// Logarithmic x axis (points with x ≤ 0 are then skipped).
    pub log_x: bool,
    /// The lines, drawn in order.
    pub series: Vec<Series>,
    /// Labelled points drawn over the lines, e.g. lr_find's suggestions.
    pub markers: Vec<Marker>,
}

/// One line of a [`LinePlot`]: points `(xs[i], ys[i])` joined in order; non-finite points break the line.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Legend entry (empty: not in the legend).
    pub label: String,
    /// x of each point.
    pub xs: Vec<f64>,
    /// y of each point (extra values beyond `xs.len()` are ignored, and the other way round).
    pub ys: Vec<f64>,
    /// Line colour; `None` takes the next colour of matplotlib's cycle.
    pub color: Option<Rgb<u8>>,
}

/// A labelled point, e.g. lr_find's "valley" suggestion.
#[derive(Debug, Clone, Default)]
pub struct Marker {
    /// Text shown beside the point and in the legend.
    pub label: String,
    /// x of the point.
    pub x: f64,
    /// y of the point.
    pub y: f64,
    /// Colour; `None` takes a cycle colour after the series'.
    pub color: Option<Rgb<u8>>,
}

impl Series {
    /// A series with the next cycle colour.
    pub fn new(label: impl Into<String>, xs: Vec<f64>, ys: Vec<f64>) -> Self {
        Self { label: label.into(), xs, ys, color: None }
    }
}

impl Marker {
    /// A marker with the next cycle colour.
    pub fn new(label: impl Into<String>, x: f64, y: f64) -> Self {
        Self { label: label.into(), x, y, color: None }
    }
}

/// Maps data coordinates to pixels inside the plot frame.
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x_range: (f64, f64),
    y_range: (f64, f64),
    log_x: bool,
}

impl Frame {
    fn px(&self, x: f64, y: f64) -> Option<(f32, f32)> {
        let tx = self.transform_x(x)?;
        if !y.is_finite() {
            return None;
        }
        let fx = (tx - self.x_range.0) / (self.x_range.1 - self.x_range.0);
        let fy = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0);
        Some(((self.left + fx * self.width) as f32, (self.top + (1.0 - fy) * self.height) as f32))
    }

    fn transform_x(&self, x: f64) -> Option<f64> {
        match (self.log_x, x.is_finite()) {
            (_, false) => None,
            (true, true) if x <= 0.0 => None,
            (true, true) => Some(x.log10()),
            (false, true) => Some(x),
        }
    }
}

impl LinePlot {
    /// Draws the plot on a white `width × height` canvas (at least 200 × 150). Axis ranges cover every finite
    /// point of the series and markers; with nothing to show, the axes span 0..1 (1e-3..1 on a log axis).
    pub fn render(&self, width: u32, height: u32) -> RgbImage {
        let (width, height) = (width.max(200), height.max(150));
        let mut canvas = RgbImage::from_pixel(width, height, WHITE);
        let (x_range, y_range) = self.data_ranges();
        let y_step = linear_step(y_range.0, y_range.1, 6);
        let y_ticks = linear_ticks(y_range.0, y_range.1, 6);
        let y_tick_width = y_ticks.iter().map(|&v| text_width(TICK_PX, &format_linear(v, y_step))).max().unwrap_or(0);
        let title_height = if self.title.is_empty() { 10 } else { line_height(TITLE_PX) + 16 };
        let y_label_width = if self.y_label.is_empty() { 0 } else { line_height(LABEL_PX) + 8 };
        let x_label_height = if self.x_label.is_empty() { 0 } else { line_height(LABEL_PX) + 6 };
        let left = 12 + y_label_width + y_tick_width + 8;
        let bottom = line_height(TICK_PX) + 12 + x_label_height + 8;
        let frame = Frame {
            left: left as f64,
            top: title_height as f64,
            width: width.saturating_sub(left + 24).max(10) as f64,
            height: height.saturating_sub(title_height + bottom).max(10) as f64,
            x_range,
            y_range,
            log_x: self.log_x,
        };
        self.draw_grid_and_ticks(&mut canvas, &frame, &y_ticks, y_step);
        self.draw_series(&mut canvas, &frame);
        let marker_colors = self.draw_markers(&mut canvas, &frame);
        self.draw_labels(&mut canvas, &frame);
        self.draw_legend(&mut canvas, &frame, &marker_colors);
        canvas
    }

    fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let series = self.series.iter().flat_map(|s| s.xs.iter().copied().zip(s.ys.iter().copied()));
        series.chain(self.markers.iter().map(|m| (m.x, m.y)))
    }

    /// x range (log10 units on a log axis) and y range, padded a little like matplotlib's margins.
    fn data_ranges(&self) -> ((f64, f64), (f64, f64)) {
        let usable = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!self.log_x || x > 0.0);
        let points: Vec<(f64, f64)> = self.points().filter(usable).collect();
        let transform = |x: f64| if self.log_x { x.log10() } else { x };
        let xs = points.iter().map(|p| transform(p.0));
        let ys = points.iter().map(|p| p.1);
        let default_x = if self.log_x { (-3.0, 0.0) } else { (0.0, 1.0) };
        (padded(min_max(xs).unwrap_or(default_x), 0.02), padded(min_max(ys).unwrap_or((0.0, 1.0)), 0.05))
    }

    fn draw_grid_and_ticks(&self, canvas: &mut RgbImage, frame: &Frame, y_ticks: &[f64], y_step: f64) {
        let bottom = (frame.top + frame.height) as i32;
        let right = (frame.left + frame.width) as i32;
        for &value in y_ticks {
            let Some((_, y)) = frame.px(x_any(frame), value) else { continue };
            fill_rect(canvas, frame.left as i32, y as i32, frame.width as u32, 1, GRID_GREY);
            fill_rect(canvas, frame.left as i32 - 5, y as i32, 5, 1, AXIS_GREY);
            let label = format_linear(value, y_step);
            let x = frame.left as i32 - 8 - text_width(TICK_PX, &label) as i32;
            draw_text(canvas, x, y as i32 - line_height(TICK_PX) as i32 / 2, TICK_PX, BLACK, &label);
        }
        let (major, minor, step) = self.x_ticks(frame);
        for &value in &minor {
            let Some((x, _)) = frame.px(value, frame.y_range.0) else { continue };
            fill_rect(canvas, x as i32, bottom, 1, 3, AXIS_GREY);
        }
        for &value in &major {
            let Some((x, _)) = frame.px(value, frame.y_range.0) else { continue };
            fill_rect(canvas, x as i32, frame.top as i32, 1, frame.height as u32, GRID_GREY);
            fill_rect(canvas, x as i32, bottom, 1, 5, AXIS_GREY);
            let label = if self.log_x { format_log(value) } else { format_linear(value, step) };
            let label_x = x as i32 - text_width(TICK_PX, &label) as i32 / 2;
            draw_text(canvas, label_x, bottom + 7, TICK_PX, BLACK, &label);
        }
        stroke_rect(
            canvas,
            frame.left as i32,
            frame.top as i32,
            (right - frame.left as i32) as u32 + 1,
            (bottom - frame.top as i32) as u32 + 1,
            AXIS_GREY,
        );
    }

    /// Major ticks, minor ticks (log axis only) and the linear step, in data units.
    fn x_ticks(&self, frame: &Frame) -> (Vec<f64>, Vec<f64>, f64) {
        let (lo, hi) = frame.x_range;
        if self.log_x {
            let (major, minor) = log_ticks(10f64.powf(lo), 10f64.powf(hi));
            return (major, minor, 0.0);
        }
        let target = (frame.width / 90.0).clamp(2.0, 10.0) as usize;
        (linear_ticks(lo, hi, target), Vec::new(), linear_step(lo, hi, target))
    }

    fn draw_series(&self, canvas: &mut RgbImage, frame: &Frame) {
        for (index, series) in self.series.iter().enumerate() {
            let color = series.color.unwrap_or_else(|| palette(index));
            let pixels: Vec<Option<(f32, f32)>> =
                series.xs.iter().zip(&series.ys).map(|(&x, &y)| frame.px(x, y)).collect();
            for pair in pixels.windows(2) {
                if let [Some(from), Some(to)] = pair {
                    draw_line(canvas, *from, *to, 2.0, color);
                }
            }
            if let [Some(only)] = pixels.as_slice() {
                fill_circle(canvas, *only, 2.5, color);
            }
        }
    }

    /// Draws each marker with its label beside it, moving labels so they do not overlap. Returns their colours.
    fn draw_markers(&self, canvas: &mut RgbImage, frame: &Frame) -> Vec<Rgb<u8>> {
        let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
        let mut colors = Vec::new();
        for (index, marker) in self.markers.iter().enumerate() {
            let color = marker.color.unwrap_or_else(|| palette(self.series.len() + index));
            colors.push(color);
            let Some(center) = frame.px(marker.x, marker.y) else { continue };
            fill_circle(canvas, center, 6.5, WHITE);
            fill_circle(canvas, center, 5.0, color);
            if marker.label.is_empty() {
                continue;
            }
            let (w, h) = (text_width(TICK_PX, &marker.label) as i32, line_height(TICK_PX) as i32);
            let (cx, cy) = (center.0 as i32, center.1 as i32);
            let candidates = [(cx + 9, cy - h - 3), (cx + 9, cy + 4), (cx - w - 9, cy - h - 3), (cx - w - 9, cy + 4)];
            let fits = |&(x, y): &(i32, i32)| {
                let inside = x >= frame.left as i32
                    && x + w <= (frame.left + frame.width) as i32
                    && y >= frame.top as i32
                    && y + h <= (frame.top + frame.height) as i32;
                inside && !placed.iter().any(|r| overlaps(*r, (x, y, w, h)))
            };
            let (x, y) = candidates.iter().copied().find(fits).unwrap_or(candidates[0]);
            fill_rect(canvas, x - 1, y, w as u32 + 2, h as u32, WHITE);
            draw_text(canvas, x, y, TICK_PX, color, &marker.label);
            placed.push((x, y, w, h));
        }
        colors
    }

    fn draw_labels(&self, canvas: &mut RgbImage, frame: &Frame) {
        let width = canvas.width();
        if !self.title.is_empty() {
            let title = fit_text(TITLE_PX, &self.title, width - 16);
            let x = (width as i32 - text_width(TITLE_PX, &title) as i32) / 2;
            draw_text_styled(canvas, x, 8, TITLE_PX, BLACK, &title, Weight::Bold, Direction::Horizontal);
        }
        if !self.x_label.is_empty() {
            let x = (frame.left + frame.width / 2.0) as i32 - text_width(LABEL_PX, &self.x_label) as i32 / 2;
            let y = (frame.top + frame.height) as i32 + line_height(TICK_PX) as i32 + 14;
            draw_text(canvas, x, y, LABEL_PX, BLACK, &self.x_label);
        }
        if !self.y_label.is_empty() {
            let y = (frame.top + frame.height / 2.0) as i32 - text_width(LABEL_PX, &self.y_label) as i32 / 2;
            draw_text_styled(canvas, 10, y, LABEL_PX, BLACK, &self.y_label, Weight::Regular, Direction::Up);
        }
    }

    /// A boxed legend in the frame corner that hides the fewest points (matplotlib's `loc="best"`).
    fn draw_legend(&self, canvas: &mut RgbImage, frame: &Frame, marker_colors: &[Rgb<u8>]) {
        let mut entries: Vec<(&str, Rgb<u8>, bool)> = Vec::new();
        for (index, series) in self.series.iter().enumerate() {
            entries.push((&series.label, series.color.unwrap_or_else(|| palette(index)), true));
        }
        for (marker, &color) in self.markers.iter().zip(marker_colors) {
            entries.push((&marker.label, color, false));
        }
        entries.retain(|(label, _, _)| !label.is_empty());
        if entries.is_empty() {
            return;
        }
        let row = line_height(TICK_PX) as i32 + 6;
        let width = 40 + entries.iter().map(|(label, _, _)| text_width(TICK_PX, label) as i32).max().unwrap_or(0);
        let height = row * entries.len() as i32 + 8;
        let (x, y) = self.legend_corner(frame, width, height);
        fill_rect(canvas, x, y, width as u32, height as u32, WHITE);
        stroke_rect(canvas, x, y, width as u32, height as u32, GRID_GREY);
        for (index, (label, color, is_line)) in entries.iter().enumerate() {
            let top = y + 4 + index as i32 * row;
            let middle = (top + row / 2 - 2) as f32;
            if *is_line {
                draw_line(canvas, (x as f32 + 8.0, middle), (x as f32 + 28.0, middle), 2.0, *color);
            } else {
                fill_circle(canvas, (x as f32 + 18.0, middle), 5.0, *color);
            }
            draw_text(canvas, x + 34, top, TICK_PX, BLACK, label);
        }
    }

    fn legend_corner(&self, frame: &Frame, width: i32, height: i32) -> (i32, i32) {
        let (left, top) = (frame.left as i32 + 8, frame.top as i32 + 8);
        let right = (frame.left + frame.width) as i32 - 8 - width;
        let bottom = (frame.top + frame.height) as i32 - 8 - height;
        let corners = [(right, top), (left, top), (right, bottom), (left, bottom)];
        let pixels: Vec<(f32, f32)> = self.points().filter_map(|(x, y)| frame.px(x, y)).collect();
        let hidden = |&(cx, cy): &(i32, i32)| {
            let inside = |&&(px, py): &&(f32, f32)| {
                px >= cx as f32 && px <= (cx + width) as f32 && py >= cy as f32 && py <= (cy + height) as f32
            };
            pixels.iter().filter(inside).count()
        };
        // min_by_key keeps the first of equals, so ties go to the upper right as in matplotlib's order.
        corners.iter().copied().min_by_key(hidden).unwrap_or((right, top))
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

fn padded((lo, hi): (f64, f64), fraction: f64) -> (f64, f64) {
    if hi - lo <= f64::EPSILON * lo.abs().max(1.0) {
        let half = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
        return (lo - half, hi + half);
    }
    let pad = (hi - lo) * fraction;
    (lo - pad, hi + pad)
}

/// Any x inside the frame, for mapping a y value alone.
fn x_any(frame: &Frame) -> f64 {
    let t = (frame.x_range.0 + frame.x_range.1) / 2.0;
    if frame.log_x {
        10f64.powf(t)
    } else {
        t
    }
}

fn overlaps(a: (i32, i32, i32, i32), b: (i32, i32, i32, i32)) -> bool {
    a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
}
