//! Holder crate for picops' benchmarks: `cargo bench -p picops-benches`, and the scripts
//! beside it (`compare.sh`) that time picops against libvips, ImageMagick and Pillow.
