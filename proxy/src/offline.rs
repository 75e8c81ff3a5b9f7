//! `picops process` and `picops info`: the processor without a server.

use std::fs;

use picops_processor::Limits;

use crate::cli::{InfoArgs, ProcessArgs};

pub fn process(args: &ProcessArgs) -> Result<(), String> {
    let data = fs::read(&args.input).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let limits = Limits::default();
    let mut rule = picops_processor::parse_rule(&args.rule).map_err(|e| e.to_string())?;
    // Offline, an image watermark's URL names a local file (the server reads buckets instead).
    for url in rule.watermark_urls() {
        let path = url.strip_prefix("file://").unwrap_or(&url);
        let bytes = fs::read(path).map_err(|e| format!("watermark {path}: {e}"))?;
        rule.resolve_watermark(&url, std::sync::Arc::new(bytes));
    }
    let decoded = picops_processor::decode_for(&data, std::slice::from_ref(&rule), &limits)
        .map_err(|e| e.to_string())?;
    let out = picops_processor::apply(&decoded, &rule, &data, &limits, None)
        .map_err(|e| e.to_string())?;
    fs::write(&args.output, &out.bytes).map_err(|e| format!("{}: {e}", args.output.display()))?;
    if let Some(e) = &out.ignored_error {
        eprintln!("picops: ignore-error: kept the input unchanged ({e})");
    }
    println!(
        "{}",
        serde_json::to_string(&out.facts).map_err(|e| e.to_string())?
    );
    Ok(())
}

pub fn info(args: &InfoArgs) -> Result<(), String> {
    let data = fs::read(&args.input).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let info = picops_processor::info(&data, &Limits::default()).map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string(&info).map_err(|e| e.to_string())?
    );
    Ok(())
}
