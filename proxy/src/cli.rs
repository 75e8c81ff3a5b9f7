//! Command line: `picops serve`, `picops process`, `picops info`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "picops",
    version,
    about = "COS persistent image processing in front of any S3 store"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy (on an embedded S3 store unless --upstream is given).
    Serve(Box<crate::config::ServeArgs>),
    /// Apply a rule to an image file offline; prints the result's facts as JSON.
    Process(ProcessArgs),
    /// Print an image's ImageInfo as JSON.
    Info(InfoArgs),
}

#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Input image.
    pub input: PathBuf,
    /// Processing rule, e.g. 'imageMogr2/thumbnail/400x/format/webp'.
    #[arg(long)]
    pub rule: String,
    /// Where to write the result.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    pub input: PathBuf,
}
