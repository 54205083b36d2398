fn main() {
    std::process::exit(reglogin::cli::run(std::env::args_os().collect()));
}
