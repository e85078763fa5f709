fn main() {
    std::process::exit(monstack::run());
}
