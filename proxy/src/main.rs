//! `picops`: COS persistent image processing in front of any S3 store.

use clap::Parser;
use picops::{cli, offline, serve};

fn main() {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        cli::Command::Process(a) => offline::process(a),
        cli::Command::Info(a) => offline::info(a),
        cli::Command::Serve(a) => serve::serve(a),
    };
    if let Err(e) = result {
        eprintln!("picops: {e}");
        std::process::exit(1);
    }
}
