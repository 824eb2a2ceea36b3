use clap::Parser;

fn main() {
    let cli = vigie::cli::Cli::parse();
    if let Err(e) = vigie::cli::run(cli) {
        eprintln!("vigie: error: {}", e.message);
        std::process::exit(e.code);
    }
}
