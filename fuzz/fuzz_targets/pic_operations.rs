//! The Pic-Operations header: JSON (or URL-encoded JSON) with rules, fileids and buckets.
//! Whatever it holds, parsing returns a value or an error; accepted fileids are safe keys.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let styles = std::collections::HashMap::from([(
            "thumb".to_string(),
            "imageMogr2/thumbnail/100x".to_string(),
        )]);
        let _ = picops::pic_ops::style_names(text);
        if let Ok(ops) =
            picops::pic_ops::parse(text, "bucket-1250000000", "dir/source.jpg", &styles)
        {
            assert!(ops.operations.len() <= 5);
            for op in &ops.operations {
                assert!(picops::route::validate_key(&op.key).is_ok(), "{:?}", op.key);
                assert!(picops::route::validate_bucket(&op.bucket).is_ok());
            }
        }
    }
});
