fn main() {
    // Run by Ansible as a binary module: `monstack <args file>`.
    if let Some(args_file) =
        monstack::ansible_module::detect(std::env::args_os(), monstack::cli::is_subcommand)
    {
        std::process::exit(monstack::ansible_module::run(&args_file));
    }
    std::process::exit(monstack::run());
}
