use clap::Parser;

use pyperf::cli::{Cli, Command};
use pyperf::{commands, exit, target};

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Stat(args) => commands::stat::run(&args),
        Command::List(args) => commands::list::run(args.filter.as_deref()),
        Command::Record(args) => commands::record::run(&args),
        Command::Report(args) => commands::views::report(&args),
        Command::Flamegraph(args) => commands::views::flamegraph(&args),
        Command::Collapse(args) => commands::views::collapse(&args),
        Command::Script(args) => commands::views::script(&args),
        Command::Convert(args) => commands::convert::convert(&args),
        Command::Diff(args) => commands::convert::diff(&args),
        Command::Top(args) => commands::top::run(&args),
        Command::Dump(args) => commands::dump::run(&args),
    }
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The exec gate is pyperf re-executed by itself; it never reaches clap.
    if args.get(1).is_some_and(|a| a == target::GATE_ARG) {
        std::process::exit(target::run_gate(&args[2..]));
    }
    let cli = Cli::parse_from(args);
    let code = match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pyperf: {error:#}");
            exit::code_of(&error)
        }
    };
    std::process::exit(code);
}
