//! Integration tests of fastvision-core: the bench report every `cargo xtask bench NAME` prints and writes.

use fastvision_core::bench::Report;

#[test]
fn bench_report_table_names_each_rows_unit_and_json_round_trips() {
    let mut report = Report::new("train", "img/s");
    report.results.insert("fastvision_resnet18".into(), 34.9);
    report.results.insert("fastvision_epoch_s".into(), 16.7);
    report.results.insert("fastvision_epoch_peak_rss_mb".into(), 715.0);
    report.results.insert("fastvision_t2_gb_per_s".into(), 2.1);
    report.results.insert("fastvision_t2_img_per_s".into(), 1700.0);
    report.ratios.insert("vs_pytorch".into(), 0.66);
    let table = report.table();
    let unit = |key: &str| table.lines().find(|l| l.contains(key)).and_then(|l| l.split_whitespace().last());
    assert_eq!(unit("fastvision_resnet18 "), Some("img/s"), "{table}");
    assert_eq!(unit("fastvision_epoch_s"), Some("s"), "{table}");
    assert_eq!(unit("peak_rss_mb"), Some("MiB"), "{table}");
    assert_eq!(unit("gb_per_s"), Some("GB/s"), "{table}");
    assert_eq!(unit("t2_img_per_s"), Some("img/s"), "{table}");
    assert!(table.contains("vs_pytorch") && table.contains("0.660x"), "{table}");

    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("train.json");
    report.write_json(&path).expect("writing the report");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("reading")).expect("json");
    assert_eq!((json["bench"].as_str(), json["unit"].as_str()), (Some("train"), Some("img/s")));
    assert_eq!(json["ratios"]["vs_pytorch"].as_f64(), Some(0.66));
    assert_eq!(json["results"]["fastvision_epoch_s"].as_f64(), Some(16.7));
}
