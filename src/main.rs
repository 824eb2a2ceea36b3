use clap::Parser;
use clap::error::ErrorKind;

// mimalloc: the web pages build many small strings and JSON values on every request, on
// several threads at once; glibc's allocator spent 30-40 % of their time (perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = match vigie::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            e.exit()
        }
        Err(e) => {
            // clap's own message, without its usage block, on one line like the others.
            let text = e.render().to_string();
            let text = text.split("\n\nUsage:").next().unwrap_or(&text);
            let text = text
                .trim()
                .trim_start_matches("error: ")
                .replace("\n\n", "; ");
            eprintln!(
                "vigie: error: {} (see `vigie --help`)",
                vigie::util::one_line(text.trim())
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = vigie::cli::run(cli) {
        // One line, whatever the message carries (a value with a line break, a name
        // with an escape sequence): the messages quote what the user typed, and this
        // is the guarantee behind them.
        eprintln!("vigie: error: {}", vigie::util::one_line(&e.message));
        std::process::exit(e.code);
    }
}
