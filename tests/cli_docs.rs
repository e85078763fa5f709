//! The CLI contract and its documentation stay in step: README's "CLI" section names every
//! subcommand and every flag the binary accepts (with the value each flag takes), names no flag
//! the binary lacks, and `--help` has text for every argument.

#[path = "support/bin.rs"]
mod bin;

use clap::CommandFactory;
use monstack::cli::Cli;

/// The fully built command tree (global flags propagated, `--help`/`--version` added).
fn command() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// Subcommands a user can run (clap's own `help` subcommand aside).
fn subcommands(cmd: &clap::Command) -> Vec<&clap::Command> {
    cmd.get_subcommands().filter(|s| s.get_name() != "help" && !s.is_hide_set()).collect()
}

/// README text between the `## CLI` heading and the next `## ` heading.
fn cli_section() -> &'static str {
    let readme = include_str!("../README.md");
    let start = readme.find("\n## CLI\n").expect("README has a `## CLI` section") + 1;
    let end = readme[start + 1..].find("\n## ").map_or(readme.len(), |i| start + 1 + i);
    &readme[start..end]
}

/// Cells of a Markdown table row (`\|` inside a cell is a literal bar).
fn cells(row: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut chars = row.trim().trim_start_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => cell.push(chars.next().unwrap()),
            '|' => out.push(std::mem::take(&mut cell).trim().to_string()),
            _ => cell.push(c),
        }
    }
    out
}

/// Code spans (`...`) of a piece of Markdown.
fn spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Whether `text` holds `word` as a whole token (`--out` is not in `--output`).
fn has_token(text: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(word)
        .any(|(i, _)| !text[..i].ends_with(is_word) && !text[i + word.len()..].starts_with(is_word))
}

/// `--long` tokens of a piece of text.
fn long_flags(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("--") {
        if text[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '-') {
            continue;
        }
        let name: String = text[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        if name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            out.push(name);
        }
    }
    out
}

/// Problems with how `arg` is documented in `docs` (the Markdown that should name it).
fn check_arg(arg: &clap::Arg, docs: &str, whose: &str, problems: &mut Vec<String>) {
    let spans = spans(docs);
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    let value_name = arg.get_value_names().and_then(|v| v.first()).map(|v| v.to_string());
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
    if arg.is_positional() {
        let name = value_name.unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
        if !spans.iter().any(|s| has_token(s, &name)) {
            problems.push(format!("{whose}: argument `{name}` is not documented"));
        }
        return;
    }
    if let Some(short) = arg.get_short() {
        let flag = format!("-{short}");
        if !spans.iter().any(|s| has_token(s, &flag)) {
            problems.push(format!("{whose}: `{flag}` is not documented"));
        }
    }
    let Some(long) = arg.get_long() else { return };
    let flag = format!("--{long}");
    // The span that documents the flag: `--flag VALUE` or `--flag a\|b`.
    let Some(span) = spans.iter().find(|s| s.starts_with(&flag) && has_token(s, &flag)) else {
        problems.push(format!("{whose}: `{flag}` is not documented"));
        return;
    };
    let bool_values = values.iter().all(|v| v == "true" || v == "false");
    if takes_value && !values.is_empty() && !bool_values {
        for v in &values {
            if !has_token(span, v) {
                problems.push(format!("{whose}: `{span}` does not list the value `{v}`"));
            }
        }
    } else if takes_value {
        let name = value_name.unwrap_or_else(|| long.to_uppercase());
        if !has_token(span, &name) {
            problems.push(format!("{whose}: `{span}` does not name its value `{name}`"));
        }
    }
}

/// Every subcommand has a row in README's command table whose flags cell documents each of
/// its flags (and the values each takes); every global flag is in the global flags table.
#[test]
fn readme_cli_section_documents_every_subcommand_and_flag() {
    let cmd = command();
    let section = cli_section();
    let rows: Vec<Vec<String>> =
        section.lines().filter(|l| l.starts_with('|')).map(cells).collect();
    // Global flags table: rows whose first cell is a flag.
    let global_docs: String = rows
        .iter()
        .filter(|r| r.first().is_some_and(|c| c.starts_with("`-")))
        .map(|r| r[0].clone() + "\n")
        .collect();
    // Command table: first cell `name`, second cell the flags (or "as `other`").
    let flags_cell = |name: &str| -> Option<String> {
        let row = rows.iter().find(|r| r.first().map(String::as_str) == Some(&format!("`{name}`")));
        let cell = row?.get(1)?.clone();
        match cell.strip_prefix("as `").and_then(|s| s.strip_suffix('`')) {
            Some(other) => rows
                .iter()
                .find(|r| r.first().map(String::as_str) == Some(&format!("`{other}`")))
                .and_then(|r| r.get(1).cloned()),
            None => Some(cell),
        }
    };

    let mut problems = Vec::new();
    let globals: Vec<&str> = cmd.get_arguments().map(|a| a.get_id().as_str()).collect();
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        check_arg(arg, &global_docs, "global flags table", &mut problems);
    }
    let subs = subcommands(&cmd);
    assert!(subs.len() >= 11, "walked every subcommand: {subs:?}");
    for sub in subs {
        let name = sub.get_name();
        let Some(docs) = flags_cell(name) else {
            problems.push(format!("subcommand `{name}` has no row in the command table"));
            continue;
        };
        let own: Vec<&clap::Arg> = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !globals.contains(&a.get_id().as_str()))
            .collect();
        for arg in &own {
            check_arg(arg, &docs, &format!("`{name}` row"), &mut problems);
        }
        // And nothing the subcommand does not accept.
        for flag in long_flags(&docs) {
            if !own.iter().any(|a| a.get_long() == Some(flag.as_str())) {
                problems
                    .push(format!("`{name}` row documents `--{flag}`, which it does not accept"));
            }
        }
    }
    assert!(problems.is_empty(), "README's CLI section is out of step:\n{}", problems.join("\n"));
}

/// Every `--flag` README's CLI section mentions (prose included) is one the binary accepts.
#[test]
fn readme_cli_section_names_no_unknown_flag() {
    fn all_longs(cmd: &clap::Command, out: &mut Vec<String>) {
        out.extend(cmd.get_arguments().filter_map(|a| a.get_long().map(str::to_string)));
        for sub in cmd.get_subcommands() {
            all_longs(sub, out);
        }
    }
    let mut known = Vec::new();
    all_longs(&command(), &mut known);
    assert!(known.iter().any(|f| f == "detailed-exitcode"), "walked the tree: {known:?}");
    let unknown: Vec<String> =
        long_flags(cli_section()).into_iter().filter(|f| !known.contains(f)).collect();
    assert!(unknown.is_empty(), "README's CLI section names flags monstack lacks: {unknown:?}");
}

/// Every subcommand, argument and enum value has help text, so no `--help` line is bare.
#[test]
fn every_subcommand_flag_and_value_has_help_text() {
    fn walk(cmd: &clap::Command, path: &str, problems: &mut Vec<String>) {
        if cmd.get_about().is_none_or(|s| s.to_string().trim().is_empty()) {
            problems.push(format!("`{path}` has no about text"));
        }
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let id = arg.get_id();
            if arg.get_help().is_none_or(|s| s.to_string().trim().is_empty()) {
                problems.push(format!("`{path}`: argument `{id}` has no help text"));
            }
            for v in arg.get_possible_values().iter().filter(|v| !v.is_hide_set()) {
                if !matches!(v.get_name(), "true" | "false") && v.get_help().is_none() {
                    problems.push(format!("`{path}`: `{id}` value `{}` has no help", v.get_name()));
                }
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), problems);
        }
    }
    let mut problems = Vec::new();
    walk(&command(), "monstack", &mut problems);
    assert!(problems.is_empty(), "help text missing:\n{}", problems.join("\n"));
}

/// `monstack <cmd> --help` from the built binary exits 0 and shows each argument with its
/// help text.
#[test]
fn subcommand_help_shows_every_flag_with_its_text() {
    let cmd = command();
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    for sub in subcommands(&cmd) {
        let name = sub.get_name();
        let out = bin::Monstack::new().args([name, "--help"]).output();
        assert!(out.status.success(), "`monstack {name} --help` exited {:?}", out.status);
        let help = squash(&String::from_utf8_lossy(&out.stdout));
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            let shown = match arg.get_long() {
                Some(long) => format!("--{long}"),
                None => arg.get_id().to_string().to_uppercase(),
            };
            assert!(has_token(&help, &shown), "`monstack {name} --help` lacks `{shown}`:\n{help}");
            // clap words its own `--help` differently for `-h` and `--help`.
            if matches!(arg.get_action(), clap::ArgAction::Help | clap::ArgAction::Version) {
                continue;
            }
            let text = squash(&arg.get_help().map(|s| s.to_string()).unwrap_or_default());
            assert!(
                help.contains(&text),
                "`monstack {name} --help` lacks the help of `{shown}` ({text:?}):\n{help}"
            );
        }
    }
}
