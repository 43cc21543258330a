//! Labellers against fastai's `RegexLabeller` results, plus parent-folder and function labellers.

use std::path::Path;

use fastvision_data::{Error, Labeller};

use crate::golden::section;

#[test]
fn regex_on_name_matches_fastai_golden() {
    let golden = section("data");
    let labeller = Labeller::regex_on_name(r"(.+)_\d+.jpg$").unwrap();
    let cases = golden["RegexLabeller_results"].as_object().unwrap();
    assert_eq!(cases.len(), 8);
    for (name, expected) in cases {
        let expected = expected.as_str().unwrap();
        let got = labeller.label(&Path::new("/data/images").join(name));
        if expected.starts_with("AssertionError") {
            let err = got.unwrap_err();
            assert!(matches!(err, Error::Label { .. }), "{name}: {err}");
            let text = err.to_string();
            assert!(text.contains(name) && text.contains(r"(.+)_\d+.jpg$"), "{name}: {text}");
        } else {
            assert_eq!(got.unwrap(), expected, "{name}");
        }
    }
}

#[test]
fn parent_folder_path_regex_and_function() {
    let path = Path::new("/data/train/beagle/img_001.png");
    assert_eq!(Labeller::ParentFolder.label(path).unwrap(), "beagle");
    let on_path = Labeller::regex_on_path(r"/train/([^/]+)/").unwrap();
    assert_eq!(on_path.label(path).unwrap(), "beagle");
    let upper = Labeller::func("upper", |p| Ok(p.extension().unwrap().to_string_lossy().to_uppercase()));
    assert_eq!(upper.label(path).unwrap(), "PNG");
}

#[test]
fn a_regex_without_a_group_or_invalid_is_rejected() {
    assert!(matches!(Labeller::regex_on_name(r".+\.jpg"), Err(Error::Parameter { .. })));
    let err = Labeller::regex_on_name(r"(unclosed").unwrap_err();
    assert!(err.to_string().contains("(unclosed"), "{err}");
}
