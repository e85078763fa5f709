//! Stamps the git commit and the build date into `monstack --version`
//! (`unknown` when built outside a git checkout, e.g. from a source tarball).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // SOURCE_DATE_EPOCH (reproducible builds) wins over the clock.
    let date = match std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse::<i64>().ok()) {
        Some(secs) => date(&["-u", "-d", &format!("@{secs}"), "+%Y-%m-%d"]),
        None => date(&["-u", "+%Y-%m-%d"]),
    };
    println!("cargo:rustc-env=MONSTACK_COMMIT={commit}");
    println!("cargo:rustc-env=MONSTACK_BUILD_DATE={date}");
    // A checkout (HEAD) or a commit on the branch (its ref) re-stamps; the files exist
    // only inside a checkout.
    let branch = git(&["rev-parse", "--symbolic-full-name", "HEAD"]);
    for path in ["HEAD", "packed-refs"].into_iter().chain(branch.as_deref()) {
        // A path that does not exist would make cargo rerun this script on every build.
        let p =
            git(&["rev-parse", "--git-path", path]).filter(|p| std::path::Path::new(p).exists());
        if let Some(p) = p {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-env-changed=GIT_DIR");
    println!("cargo:rerun-if-changed=build.rs");
}

/// `date ARGS`, or `unknown`.
fn date(args: &[&str]) -> String {
    Command::new("date")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
