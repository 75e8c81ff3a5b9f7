//! Processor throughput on the shared photos, one thread: decode + rule + encode.
//! Run: `cargo bench -p picops-benches` (inputs from tests/images/photos).

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use picops_processor::{process, Limits};

fn photo(name: &str) -> Vec<u8> {
    let dir = std::env::var("PICOPS_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/images"));
    let path = dir.join("photos").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let cases = [
        (
            "safelanding-5120x2880.jpg",
            "imageMogr2/thumbnail/1000x",
            "14.7MP jpeg -> 1000px jpeg",
        ),
        (
            "safelanding-5120x2880.jpg",
            "imageMogr2/thumbnail/400x/format/webp",
            "14.7MP jpeg -> 400px webp",
        ),
        (
            "autumn-2560x1600.jpg",
            "imageMogr2/thumbnail/1000x",
            "4.1MP jpeg -> 1000px jpeg",
        ),
        (
            "path-2560x1600.jpg",
            "imageMogr2/thumbnail/400x/format/webp",
            "4.1MP jpeg -> 400px webp",
        ),
        (
            "milkyway-1080x1920.png",
            "imageMogr2/thumbnail/400x/format/webp",
            "2MP png -> 400px webp",
        ),
    ];
    let mut group = c.benchmark_group("process");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    // The shared photos include no large WebP: the 14.7 MP one is converted first (quality 80).
    let webp = process(
        &photo("safelanding-5120x2880.jpg"),
        "imageMogr2/format/webp/quality/80",
        &limits,
    )
    .map(|o| o.bytes)
    .unwrap_or_else(|e| panic!("making the WebP input: {e}"));
    for (file, rule, name) in cases {
        let data = photo(file);
        group.bench_function(name, |b| {
            b.iter(|| {
                process(&data, rule, &limits)
                    .map(|o| o.bytes.len())
                    .unwrap_or(0)
            })
        });
    }
    group.bench_function("14.7MP webp -> 1000px jpeg", |b| {
        b.iter(|| {
            process(&webp, "imageMogr2/thumbnail/1000x", &limits)
                .map(|o| o.bytes.len())
                .unwrap_or(0)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
