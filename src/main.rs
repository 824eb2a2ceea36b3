use clap::Parser;

// mimalloc: the web pages build many small strings and JSON values on every request, on
// several threads at once; glibc's allocator spent 30-40 % of their time (perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = vigie::cli::Cli::parse();
    if let Err(e) = vigie::cli::run(cli) {
        eprintln!("vigie: error: {}", vigie::util::one_line(&e.message));
        std::process::exit(e.code);
    }
}
