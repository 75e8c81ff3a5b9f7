mod cli;
mod config;
mod offline;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        cli::Command::Process(a) => offline::process(a),
        cli::Command::Info(a) => offline::info(a),
        cli::Command::Serve(_) => Err("serve: not built yet".to_string()),
    };
    if let Err(e) = result {
        eprintln!("picops: {e}");
        std::process::exit(1);
    }
}
