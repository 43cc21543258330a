//! Axis ticks: "nice" linear steps (1, 2, 5 × 10^k) and decades on a log axis, with their labels.

/// Tick positions for a linear axis over `lo..=hi`, about `target` of them, at 1, 2 or 5 × 10^k steps.
pub fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    // Multiply rather than accumulate, then round to the step's decimals, so 0.1 + 0.2 drift cannot creep in.
    let scale = 10f64.powi((-step.log10().floor()).max(0.0) as i32);
    (first..=last).map(|k| (k as f64 * step * scale).round() / scale).collect()
}

/// The step between ticks of [`linear_ticks`] (needed to format their labels).
pub fn linear_step(lo: f64, hi: f64, target: usize) -> f64 {
    nice_step((hi - lo) / target.max(1) as f64)
}

/// Major and minor ticks for a log axis over `lo..=hi` (both > 0): majors at 10^k (plus 2 and 5 × 10^k when the
/// range spans less than two decades), minors at the other integer multiples.
pub fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return (Vec::new(), Vec::new());
    }
    let dense = hi / lo < 100.0;
    let (mut major, mut minor) = (Vec::new(), Vec::new());
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    for exponent in first..=last {
        let decade = 10f64.powi(exponent);
        for multiple in 1..10 {
            let value = decade * multiple as f64;
            if value < lo * (1.0 - 1e-9) || value > hi * (1.0 + 1e-9) {
                continue;
            }
            let is_major = multiple == 1 || (dense && (multiple == 2 || multiple == 5));
            if is_major {
                major.push(value)
            } else {
                minor.push(value)
            }
        }
    }
    (major, minor)
}

/// Label of a linear tick, with as many decimals as the step needs.
pub fn format_linear(value: f64, step: f64) -> String {
    let decimals = if step > 0.0 { (-step.log10().floor()).max(0.0) as usize } else { 2 };
    format!("{value:.decimals$}")
}

/// Label of a log tick: plain for 0.01..=1000, else `1e-5` style.
pub fn format_log(value: f64) -> String {
    let exponent = value.log10().floor() as i32;
    if (-2..=3).contains(&exponent) {
        let decimals = (-exponent).max(0) as usize;
        return format!("{value:.decimals$}");
    }
    let mantissa = value / 10f64.powi(exponent);
    if (mantissa - mantissa.round()).abs() < 1e-6 {
        format!("{}e{exponent}", mantissa.round())
    } else {
        format!("{mantissa:.1}e{exponent}")
    }
}

fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

#[cfg(test)]
mod tests;
