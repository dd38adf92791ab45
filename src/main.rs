#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    openice::cli::main()
}
