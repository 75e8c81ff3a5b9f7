//! `picops process` and `picops info`: the processor without a server.

use std::fs;

use picops_processor::Limits;

use crate::cli::{InfoArgs, ProcessArgs};

pub fn process(args: &ProcessArgs) -> Result<(), String> {
    let data = fs::read(&args.input).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let out = picops_processor::process(&data, &args.rule, &Limits::default())
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
