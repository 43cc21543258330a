//! Issue 16 §4: the losses and their gradients give the same bits on 1, 2, 3 and 4 rayon threads. Rows are cut
//! into blocks by the thread count, but each row is computed alone and the rows are combined in row order.

use candle::{DType, Tensor, Var, D};
use fastvision_losses::{
    binary_cross_entropy_with_logits, cross_entropy_with, log_softmax, softmax, BceConfig, CrossEntropyConfig,
    Reduction,
};

use crate::{random_logits, random_targets, values};

/// Rows × classes: well above the size the kernels start splitting over threads at.
const ROWS: usize = 512;
const CLASSES: usize = 200;

/// Tensors computed by one case.
type Case<'a> = Box<dyn Fn() -> Vec<Tensor> + Sync + 'a>;

/// Every value `f` returns, in a fresh rayon pool of `threads` threads, as bits.
fn bits_on(threads: usize, f: &(dyn Fn() -> Vec<Tensor> + Sync)) -> Vec<Vec<u64>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a rayon pool");
    pool.install(|| f().iter().map(|t| values(t).iter().map(|v| v.to_bits()).collect()).collect())
}

/// `Σ y²`: a scalar whose gradient reaches every element of `y`.
fn sum_of_squares(y: Tensor) -> Tensor {
    y.sqr().and_then(|y| y.sum_all()).expect("sum of squares")
}

/// The value and the gradient of `loss` at `x`.
fn with_grad(x: &Tensor, loss: impl Fn(&Tensor) -> Tensor) -> Vec<Tensor> {
    let var = Var::from_tensor(x).expect("var");
    let value = loss(var.as_tensor());
    let grads = value.backward().expect("backward");
    vec![value, grads.get(&var).expect("a gradient").clone()]
}

#[test]
fn r16_losses_give_the_same_bits_on_any_thread_count() {
    let x = random_logits(3, ROWS, CLASSES, 8.0, DType::F32);
    let targets = random_targets(4, ROWS, CLASSES);
    let probs = random_logits(5, ROWS, CLASSES, 1.0, DType::F32).affine(0.5, 0.5).expect("probabilities");
    let smoothed = CrossEntropyConfig { label_smoothing: 0.1, reduction: Reduction::Mean, ..Default::default() };
    let cases: [(&str, Case); 4] = [
        ("cross_entropy", Box::new(|| with_grad(&x, |x| cross_entropy_with(x, &targets, &smoothed).expect("loss")))),
        ("softmax", Box::new(|| with_grad(&x, |x| sum_of_squares(softmax(x, D::Minus1).expect("softmax"))))),
        (
            "log_softmax",
            Box::new(|| with_grad(&x, |x| sum_of_squares(log_softmax(x, D::Minus1).expect("log_softmax")))),
        ),
        (
            "bce_with_logits",
            Box::new(|| {
                with_grad(&x, |x| binary_cross_entropy_with_logits(x, &probs, &BceConfig::default()).expect("loss"))
            }),
        ),
    ];
    for (name, f) in &cases {
        let reference = bits_on(1, f.as_ref());
        for threads in [2, 3, 4] {
            assert!(bits_on(threads, f.as_ref()) == reference, "{name}: {threads} threads against 1 differ");
        }
    }
}
