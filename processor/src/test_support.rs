//! What the unit tests of several modules share: the shared test images and a pixel metric.

use std::path::PathBuf;

/// `tests/images` in the repository.
pub(crate) fn images() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/images")
}

/// One of the shared edge-case images.
pub(crate) fn edge(name: &str) -> Vec<u8> {
    std::fs::read(images().join("edge").join(name)).expect("test image")
}

/// Mean absolute difference of two equally long sample buffers, in levels.
pub(crate) fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.len() as f64
}
