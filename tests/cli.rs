//! The CLI conveniences, run through the built binary: shell completions and man pages
//! generated from the clap tree, `--version` with the build's commit, `--json`, `-q`,
//! and help that keeps global options apart and ends with examples.

#[path = "support/bin.rs"]
mod bin;

use std::path::Path;
use std::process::{Command, Output};

use bin::Monstack;

fn run(args: &[&str]) -> Output {
    Monstack::new().args(args).output()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A tool the test needs; absent, the test fails (a skipped check never ran).
fn tool(name: &str) -> std::path::PathBuf {
    which(name).unwrap_or_else(|| panic!("`{name}` is not installed: run `make deps`"))
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// What bash's completion offers for the words typed so far, with the script
/// `monstack completions bash` printed.
fn bash_complete(script: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\n\
         _monstack monstack '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new(tool("bash")).args(["--norc", "-c", &program]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().map(str::to_string).collect()
}

#[test]
fn bash_completion_is_valid_and_completes_subcommands_and_flags() {
    let out = run(&["completions", "bash"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("monstack.bash");
    std::fs::write(&script, &out.stdout).unwrap();

    let check = Command::new(tool("bash")).arg("-n").arg(&script).output().unwrap();
    assert!(check.status.success(), "bash -n refuses the script: {}", stderr(&check));

    assert_eq!(bash_complete(&script, &["monstack", "pl"]), ["plan"]);
    let subs = bash_complete(&script, &["monstack", ""]);
    for s in ["apply", "status", "completions", "man"] {
        assert!(subs.contains(&s.to_string()), "`{s}` not offered: {subs:?}");
    }
    assert_eq!(bash_complete(&script, &["monstack", "plan", "--det"]), ["--detailed-exitcode"]);
    // Global flags complete after a subcommand too, and enum values are offered.
    assert_eq!(bash_complete(&script, &["monstack", "apply", "--js"]), ["--json"]);
    let shells = bash_complete(&script, &["monstack", "completions", ""]);
    assert!(shells.contains(&"powershell".to_string()), "{shells:?}");
}

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    for (shell, marker) in [
        ("zsh", "#compdef monstack"),
        ("fish", "complete -c monstack"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(text.contains("detailed-exitcode") && text.contains("rollback"), "{shell}");
    }
    let zsh = which("zsh");
    if let Some(zsh) = zsh {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("_monstack");
        std::fs::write(&f, run(&["completions", "zsh"]).stdout).unwrap();
        assert!(Command::new(zsh).arg("-n").arg(&f).status().unwrap().success());
    }
    // Not a shell it knows: a usage error naming the choices.
    let out = run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("bash, zsh, fish, powershell"), "{}", stderr(&out));
}

/// `man -l` renders a page to plain text (no pager, a fixed width).
fn man(page: &Path) -> String {
    let out = Command::new(tool("man"))
        .arg("-l")
        .arg(page)
        .env("MANWIDTH", "120")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .unwrap();
    assert!(out.status.success(), "man -l {}: {}", page.display(), stderr(&out));
    assert!(out.stderr.is_empty(), "man warns about {}: {}", page.display(), stderr(&out));
    stdout(&out)
}

#[test]
fn man_pages_render_with_options_subcommands_and_examples() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = dir.path().join("stdout.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let text = man(&page);
    for want in ["NAME", "SYNOPSIS", "GLOBAL OPTIONS", "--config", "monstack-apply(1)", "EXAMPLES"]
    {
        assert!(text.contains(want), "`{want}` missing:\n{text}");
    }
    assert!(text.contains("monstack plan"), "the examples are rendered:\n{text}");
    assert!(!text.contains("Examples:"), "the heading is the section's:\n{text}");

    let pages = dir.path().join("man1");
    let out = run(&["man", "--dir", pages.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(listed.len(), 15, "the top page and one per subcommand: {listed:?}");
    for l in &listed {
        assert!(Path::new(l).is_file(), "{l}");
    }
    let plan = man(&pages.join("monstack-plan.1"));
    for want in ["--detailed-exitcode", "--ready-timeout", "GLOBAL OPTIONS", "--json", "EXAMPLES"] {
        assert!(plan.contains(want), "`{want}` missing:\n{plan}");
    }
    assert!(plan.contains("monstack plan --detailed-exitcode --json"), "{plan}");
}

#[test]
fn version_names_the_commit_and_build_date() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_string(), |o| stdout(&o).trim().to_string());
    let want = format!("monstack {} (commit {commit}, built ", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&want), "{text:?} does not start with {want:?}");
    let date = text.trim_end().trim_end_matches(')').rsplit(' ').next().unwrap();
    let parts: Vec<&str> = date.split('-').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit())),
        "a YYYY-MM-DD date: {text:?}"
    );
    // Every subcommand answers the same.
    assert_eq!(stdout(&run(&["plan", "--version"])), text.replace("monstack ", "monstack-plan "));
}

/// A config that renders without network or host access.
fn scaffold() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Monstack::new().dir(dir.path()).args(["-q", "init"]).output();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "init -q is silent: {out:?}");
    assert!(dir.path().join("monstack.yaml").is_file());
    dir
}

#[test]
fn json_is_output_json_and_quiet_prints_only_errors() {
    let dir = scaffold();
    let render = |extra: &[&str], out: &str| {
        Monstack::new().dir(dir.path()).args(extra).args(["render", "--out", out]).output()
    };
    let a = render(&["--json"], "a");
    let b = render(&["--output", "json"], "b");
    assert!(a.status.success() && b.status.success(), "{}", stderr(&a));
    let doc = |o: &Output| -> serde_json::Value { serde_json::from_slice(&o.stdout).unwrap() };
    let (mut da, mut db) = (doc(&a), doc(&b));
    assert_eq!(da["format_version"], 2);
    da["out"] = "".into();
    db["out"] = "".into();
    assert_eq!(da, db, "--json prints the same document as --output json");
    // After the subcommand too; `--output human --json` contradict each other.
    let after = Monstack::new().dir(dir.path()).args(["render", "--out", "c", "--json"]).output();
    assert!(serde_json::from_slice::<serde_json::Value>(&after.stdout).is_ok());
    let both = render(&["--json", "--output", "human"], "d");
    assert_eq!(both.status.code(), Some(64), "{}", stderr(&both));

    // -q: files rendered, nothing printed.
    let q = render(&["-q"], "e");
    assert!(q.status.success(), "{}", stderr(&q));
    assert!(dir.path().join("e/opt/prometheus/prometheus.yml").is_file());
    assert_eq!((stdout(&q), stderr(&q)), (String::new(), String::new()));
    // Without -q the same command lists the files and says what it did.
    let loud = render(&[], "f");
    assert!(!loud.stdout.is_empty() && !loud.stderr.is_empty());
    // -q with --json: the document still comes.
    let qj = render(&["-q", "--json"], "g");
    assert_eq!(doc(&qj)["format_version"], 2);

    // -q with an error: the error, on stderr, and nothing else.
    std::fs::write(dir.path().join("monstack.yaml"), "prometheus:\n  nope: 1\n").unwrap();
    let bad = render(&["-q"], "h");
    assert_eq!(bad.status.code(), Some(78));
    assert!(bad.stdout.is_empty());
    assert!(stderr(&bad).starts_with("error: "), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("nope"), "{}", stderr(&bad));
}

#[test]
fn help_keeps_global_options_apart_and_ends_with_examples() {
    for sub in ["init", "render", "validate", "lock", "bundle", "install", "rollback", "plan"]
        .into_iter()
        .chain(["apply", "status", "stop", "completions", "man", "uninstall"])
    {
        let out = run(&[sub, "--help"]);
        assert!(out.status.success(), "{sub}: {}", stderr(&out));
        let help = stdout(&out);
        let own = help.find("\nOptions:\n").unwrap_or_else(|| panic!("{sub}:\n{help}"));
        let global = help.find("\nGlobal options:\n").unwrap_or_else(|| panic!("{sub}:\n{help}"));
        let examples = help.find("\nExamples:\n").unwrap_or_else(|| panic!("{sub}:\n{help}"));
        assert!(own < global && global < examples, "{sub}: sections out of order:\n{help}");
        let config = help.find("--config").unwrap();
        assert!(config > global, "{sub}: --config among the subcommand's own options:\n{help}");
        assert!(help[examples..].contains(&format!("monstack {sub}")), "{sub}:\n{help}");
    }
    let plan = stdout(&run(&["plan", "--help"]));
    let global = plan.find("\nGlobal options:\n").unwrap();
    assert!(plan.find("--detailed-exitcode").unwrap() < global, "{plan}");
}

/// `make install` with DESTDIR and PREFIX puts the binary, a man page per subcommand and
/// the bash, zsh and fish completions where those tools look, and they work.
#[test]
fn make_install_places_binary_man_pages_and_completions() {
    let dest = tempfile::tempdir().unwrap();
    let out = Command::new(tool("make"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--no-print-directory")
        .arg("install")
        .arg(format!("DESTDIR={}", dest.path().display()))
        .arg("PREFIX=/usr")
        .arg(format!("BIN={}", env!("CARGO_BIN_EXE_monstack")))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let usr = dest.path().join("usr");

    let bin = usr.join("bin/monstack");
    let meta = std::fs::metadata(&bin).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o755);
    let v = Command::new(&bin).arg("--version").output().unwrap();
    assert_eq!(v.stdout, run(&["--version"]).stdout, "the installed binary is this build");

    let pages = usr.join("share/man/man1");
    assert!(man(&pages.join("monstack.1")).contains("GLOBAL OPTIONS"));
    assert!(man(&pages.join("monstack-apply.1")).contains("--ready-timeout"));
    let count = std::fs::read_dir(&pages).unwrap().count();
    assert_eq!(count, 15, "monstack.1 and one page per subcommand");

    let bash = usr.join("share/bash-completion/completions/monstack");
    assert_eq!(bash_complete(&bash, &["monstack", "stat"]), ["status"]);
    let zsh = std::fs::read_to_string(usr.join("share/zsh/site-functions/_monstack")).unwrap();
    assert!(zsh.starts_with("#compdef monstack"), "{zsh}");
    let fish = usr.join("share/fish/vendor_completions.d/monstack.fish");
    assert!(std::fs::read_to_string(fish).unwrap().contains("complete -c monstack"));
}
