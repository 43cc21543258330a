//! Checkpoints written byte by byte: views sharing a storage, transposed tensors, wrappers, prefixes, inert numpy
//! metadata, and refusals (unknown globals, short storages, big-endian files) in both torch formats.

use candle::DType;
use fastvision_weights::{Error, Format, ReadOptions, StateDict};

use crate::common::{legacy_checkpoint, read_bytes, read_err, zip_checkpoint, Pickle, Storage};

/// Both torch formats of the same pickle and storages, as (file name, bytes).
fn both_formats(pickle: &[u8], storages: &[&Storage]) -> [(&'static str, Vec<u8>); 2] {
    [("views.pth", zip_checkpoint(pickle, storages, "little")), ("views.th", legacy_checkpoint(pickle, storages))]
}

fn values(state: &StateDict, name: &str) -> (Vec<usize>, Vec<f32>) {
    let t = state.get(name).unwrap_or_else(|| panic!("{name} missing"));
    (t.dims().to_vec(), t.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1().unwrap())
}

#[test]
fn views_at_offsets_and_transposed_strides_come_out_as_pytorch_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<f32> = (0..12).map(|v| v as f32).collect();
    let shared = Storage::f32("0", &data);
    let counter = Storage::i64("1", &[7]);
    let pickle = Pickle::new()
        .dict(&[
            // The first half of the storage, its second half (a view at offset 6), the first half transposed
            // (strides (1, 3)), a strided 2×2 picking every other element, and a 0-dimensional i64 counter.
            ("a", &|p| {
                p.tensor(&shared, 0, &[2, 3], &[3, 1]);
            }),
            ("b", &|p| {
                p.tensor(&shared, 6, &[2, 3], &[3, 1]);
            }),
            ("a_t", &|p| {
                p.tensor(&shared, 0, &[3, 2], &[1, 3]);
            }),
            ("every_other", &|p| {
                p.tensor(&shared, 1, &[2, 2], &[6, 2]);
            }),
            ("bn.num_batches_tracked", &|p| {
                p.tensor(&counter, 0, &[], &[]);
            }),
        ])
        .stop();
    for (name, bytes) in both_formats(&pickle, &[&shared, &counter]) {
        let state = read_bytes(dir.path(), name, &bytes, &ReadOptions::default()).unwrap();
        let names: Vec<&str> = state.tensors().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "a_t", "every_other", "bn.num_batches_tracked"], "{name}: file order");
        assert_eq!(values(&state, "a"), (vec![2, 3], vec![0., 1., 2., 3., 4., 5.]), "{name}");
        assert_eq!(values(&state, "b"), (vec![2, 3], vec![6., 7., 8., 9., 10., 11.]), "{name}");
        assert_eq!(values(&state, "a_t"), (vec![3, 2], vec![0., 3., 1., 4., 2., 5.]), "{name}");
        assert_eq!(values(&state, "every_other"), (vec![2, 2], vec![1., 3., 7., 9.]), "{name}");
        let counter = state.get("bn.num_batches_tracked").unwrap();
        assert_eq!((counter.dtype(), counter.to_scalar::<i64>().unwrap()), (DType::I64, 7), "{name}");
        let format = if name.ends_with(".pth") { Format::TorchZip } else { Format::TorchLegacy };
        assert_eq!(state.format(), format);
    }
}

#[test]
fn an_ordered_dict_with_metadata_keeps_its_order_across_batches() {
    // As `torch.save(model.state_dict())` writes it: OrderedDict(), items in SETITEMS batches of 1000 (candle
    // appends each batch reversed), then BUILD with the `_metadata` attribute.
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::f32("0", &[1.0, 2.0, 3.0]);
    let mut pickle = Pickle::new();
    pickle.global("collections", "OrderedDict").op(b')').op(b'R').put();
    let names: Vec<String> = (0..1201).map(|i| format!("layer{}.weight", (i * 7919) % 1201)).collect();
    for batch in names.chunks(1000) {
        pickle.op(b'(');
        for (i, name) in batch.iter().enumerate() {
            pickle.text(name).tensor(&storage, i % 3, &[1], &[1]);
        }
        pickle.op(b'u');
    }
    pickle.op(b'}').text("_metadata").global("collections", "OrderedDict").op(b')').op(b'R');
    pickle.op(b'(').text("").op(b'}').text("version").int(1).op(b's').op(b'u').op(b's').op(b'b');
    for (name, bytes) in both_formats(&pickle.stop(), &[&storage]) {
        let state = read_bytes(dir.path(), name, &bytes, &ReadOptions::default()).unwrap();
        let read: Vec<&str> = state.tensors().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(read, names, "{name}: file order");
        assert_eq!(values(&state, &names[1000]), (vec![1], vec![1.0]), "{name}");
        assert_eq!(values(&state, &names[1001]), (vec![1], vec![2.0]), "{name}");
    }
}

#[test]
fn parameters_wrappers_prefixes_and_numpy_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let weights = Storage::f32("0", &[1.0, 2.0]);
    let ema = Storage::f32("1", &[3.0, 4.0]);
    let parameter = |p: &mut Pickle| {
        p.global("torch._utils", "_rebuild_parameter").op(b'(');
        p.tensor(&weights, 0, &[2], &[1]).op(0x88).global("collections", "OrderedDict").op(b')').op(b'R').op(b't');
        p.op(b'R');
    };
    // `best_acc` as protocol 2 pickles a numpy float64: scalar(dtype('f8'), _codecs.encode(bytes, 'latin1')).
    let numpy_scalar = |p: &mut Pickle| {
        p.global("numpy.core.multiarray", "scalar").global("numpy", "dtype").text("f8").op(0x89).op(0x88);
        p.op(0x87).op(b'R').op(b'(').int(3).text("<").op(b'N').op(b'N').op(b'N');
        p.raw(b"J\xff\xff\xff\xffJ\xff\xff\xff\xff").int(0).op(b't').op(b'b');
        p.global("_codecs", "encode").text("\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}Y@").text("latin1").op(0x86).op(b'R');
        p.op(0x86).op(b'R');
    };
    let wrapped = Pickle::new()
        .dict(&[
            ("epoch", &|p| {
                p.int(90);
            }),
            ("state_dict", &|p| {
                p.dict(&[("module.fc.weight", &parameter), ("module.fc.bias", &parameter)]);
            }),
            ("best_acc", &numpy_scalar),
        ])
        .stop();
    for (name, bytes) in both_formats(&wrapped, &[&weights]) {
        let state = read_bytes(dir.path(), name, &bytes, &ReadOptions::default()).unwrap();
        assert_eq!((state.key(), state.removed_module_prefix()), (Some("state_dict"), true), "{name}");
        assert_eq!(values(&state, "fc.weight"), (vec![2], vec![1.0, 2.0]), "{name}");
        assert_eq!(state.len(), 2);
    }

    // Two state dicts: an error listing both, unless one is chosen; `module.` stays when not every name has it.
    let two = Pickle::new()
        .dict(&[
            ("model", &|p| {
                p.dict(&[("module.w", &|p| {
                    p.tensor(&weights, 0, &[2], &[1]);
                })]);
            }),
            ("ema", &|p| {
                p.dict(&[
                    ("module.w", &|p| {
                        p.tensor(&ema, 0, &[2], &[1]);
                    }),
                    ("w", &|p| {
                        p.tensor(&ema, 0, &[2], &[1]);
                    }),
                ]);
            }),
        ])
        .stop();
    for (name, bytes) in both_formats(&two, &[&weights, &ema]) {
        let err = read_bytes(dir.path(), name, &bytes, &ReadOptions::default()).unwrap_err();
        assert!(matches!(&err, Error::AmbiguousStateDict { candidates, .. } if candidates == &["model", "ema"]));
        assert!(err.to_string().contains("--weights-key"), "{err}");
        let state = read_bytes(dir.path(), name, &bytes, &ReadOptions::with_key("ema")).unwrap();
        assert_eq!(values(&state, "module.w"), (vec![2], vec![3.0, 4.0]), "{name}");
        assert!(!state.removed_module_prefix());
        let err = read_bytes(dir.path(), name, &bytes, &ReadOptions::with_key("optimizer")).unwrap_err();
        assert!(err.to_string().contains(r#"no key "optimizer"; its keys: "model", "ema""#), "{err}");
    }
}

#[test]
fn refusals_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let short = &Storage::f32("0", &[1.0, 2.0, 3.0, 4.0]);
    let state_dict = |global: (&'static str, &'static str), shape: &'static [usize]| {
        Pickle::new()
            .dict(&[("conv.weight", &move |p: &mut Pickle| {
                p.tensor(short, 0, shape, &[shape[1], 1]);
                if global.0 != "torch._utils" {
                    // Replace the rebuild call by another global's call on the same arguments.
                    let at = p.bytes.windows(30).position(|w| w.starts_with(b"ctorch._utils\n")).unwrap();
                    let len = b"ctorch._utils\n_rebuild_tensor_v2\n".len();
                    p.bytes.splice(at..at + len, format!("c{}\n{}\n", global.0, global.1).bytes());
                }
            })])
            .stop()
    };
    let rebuild = ("torch._utils", "_rebuild_tensor_v2");
    for (name, bytes) in both_formats(&state_dict(rebuild, &[2, 3]), &[short]) {
        match read_err(dir.path(), name, &bytes) {
            Error::StorageTooShort { tensor, needed: 6, available: 4, .. } => assert_eq!(tensor, "conv.weight"),
            other => panic!("{name}: {other}"),
        }
    }
    for (global, hint) in [
        (("posix", "system"), "save the weights alone"),
        (("torch.nn.modules.conv", "Conv2d"), "whole pickled model"),
        (("fastai.learner", "Learner"), "learn.export"),
    ] {
        for (name, bytes) in both_formats(&state_dict(global, &[2, 2]), &[short]) {
            let err = read_err(dir.path(), name, &bytes);
            let Error::UnknownGlobal { global: named, .. } = &err else { panic!("{name}: {err}") };
            assert_eq!(*named, format!("{}.{}", global.0, global.1));
            assert!(err.to_string().contains(hint) && err.to_string().contains("never runs"), "{err}");
        }
    }
    let big = zip_checkpoint(&state_dict(rebuild, &[2, 2]), &[short], "big");
    assert!(matches!(read_err(dir.path(), "big.pth", &big), Error::BigEndian { .. }));
}
