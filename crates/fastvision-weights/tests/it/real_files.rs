//! The real checkpoints in `$FASTVISION_SHARED/weights/pytorch-formats` against the safetensors of the same weights.

use std::time::Instant;

use candle::DType;
use fastvision_weights::{Error, Format, ReadOptions, StateDict};

use crate::common::{pytorch_file, shared};

fn read(name: &str) -> StateDict {
    let start = Instant::now();
    let state = StateDict::read(&pytorch_file(name), &ReadOptions::default()).unwrap();
    eprintln!("{name}: {} tensors in {:.1} ms", state.len(), start.elapsed().as_secs_f64() * 1e3);
    state
}

fn reference() -> StateDict {
    StateDict::read(&shared("weights/cifar-resnet/resnet20.safetensors"), &ReadOptions::default()).unwrap()
}

/// Every tensor of `reference` is in `state` with the same shape and, after `dtype` rounding, the same values;
/// `state`'s other tensors are `num_batches_tracked` counters.
fn assert_same(state: &StateDict, reference: &StateDict, dtype: DType) {
    for (name, expected) in reference.tensors() {
        let actual = state.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(actual.dtype(), dtype, "{name}");
        assert_eq!(actual.dims(), expected.dims(), "{name}");
        let expected = expected.to_dtype(dtype).unwrap().to_dtype(DType::F64).unwrap();
        let actual = actual.to_dtype(DType::F64).unwrap();
        let diff = (actual - expected).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap();
        assert_eq!(diff.to_scalar::<f64>().unwrap(), 0.0, "{name} differs");
    }
    for (name, tensor) in state.tensors() {
        if reference.get(name).is_none() {
            assert!(name.ends_with("num_batches_tracked") && tensor.dtype() == DType::I64, "unexpected {name}");
        }
    }
}

#[test]
fn zip_resnet20_equals_the_safetensors() {
    let state = read("resnet20-7b70fb0a.pth");
    assert_eq!(state.format(), Format::TorchZip);
    assert_eq!((state.key(), state.removed_module_prefix()), (None, false));
    assert_eq!(state.tensors()[0].0, "conv1.weight", "file order");
    assert_same(&state, &reference(), DType::F32);
}

#[test]
fn wrapped_f16_resnet20_equals_the_rounded_safetensors() {
    let state = read("resnet20-f16-wrapped.pth");
    assert_eq!((state.format(), state.key()), (Format::TorchZip, Some("model")));
    assert_same(&state, &reference(), DType::F16);
    // Choosing the key explicitly gives the same; a key that is not there lists those that are.
    let path = pytorch_file("resnet20-f16-wrapped.pth");
    assert_eq!(StateDict::read(&path, &ReadOptions::with_key("model")).unwrap().len(), state.len());
    let err = StateDict::read(&path, &ReadOptions::with_key("state_dict")).unwrap_err();
    assert!(matches!(&err, Error::UnknownKey { keys, .. } if keys == &["model", "epoch"]), "{err}");
    let err = StateDict::read(&path, &ReadOptions::with_key("epoch")).unwrap_err();
    assert!(err.to_string().contains("holds no tensors"), "{err}");
}

#[test]
fn legacy_resnet32_is_read_with_its_wrapper_and_prefix_removed() {
    let state = read("resnet32-d509ac18.th");
    assert_eq!(state.format(), Format::TorchLegacy);
    assert_eq!((state.key(), state.removed_module_prefix()), (Some("state_dict"), true));
    assert_eq!(state.len(), 157);
    assert!(state.tensors().iter().all(|(_, t)| t.dtype() == DType::F32));
    assert_eq!(state.tensors()[0].0, "conv1.weight");
    assert_eq!(state.get("conv1.weight").unwrap().dims(), &[16, 3, 3, 3]);
    assert_eq!(state.get("layer3.4.bn2.running_var").unwrap().dims(), &[64]);
    assert_eq!(state.get("linear.weight").unwrap().dims(), &[10, 64]);
    // The first values of conv1.weight, as Python reads them from the file.
    let first: Vec<f32> = state.get("conv1.weight").unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let python = [0.40355396270751953f64, -0.5460765361785889, -0.6849855780601501, -0.106679767370224];
    assert_eq!(&first[..4], python.map(|v| v as f32).as_slice());
}

#[test]
fn conversion_round_trips_through_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    let state = read("resnet32-d509ac18.th");
    let out = dir.path().join("resnet32.safetensors");
    state.save_safetensors(&out).unwrap();
    let back = StateDict::read(&out, &ReadOptions::default()).unwrap();
    assert_eq!(back.format(), Format::Safetensors);
    assert_same(&back, &state, DType::F32);
    assert_eq!(back.len(), state.len());
}
