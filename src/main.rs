//! The `breakdex` binary: the command line, and (later) the window.

fn main() -> std::process::ExitCode {
    breakdex::cli::main()
}
