//! `oms`: the order management system's server and tools (see `api::cli`).

fn main() -> std::process::ExitCode {
    api::cli::main()
}
