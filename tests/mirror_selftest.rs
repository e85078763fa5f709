//! The test mirror itself works (so failures elsewhere are monstack's).
#[path = "support/mirror.rs"]
mod mirror;

#[test]
fn serves_files_ranges_and_faults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"0123456789").unwrap();
    let m = mirror::Mirror::start(dir.path());
    let get = |range: Option<&str>| {
        let mut c = std::process::Command::new("curl");
        c.args(["-s", "-o", "-", "-w", "\n%{http_code}"]);
        if let Some(r) = range {
            c.args(["-H", &format!("Range: {r}")]);
        }
        let out = c.arg(format!("{}/f", m.base_url())).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(get(None), "0123456789\n200");
    assert_eq!(get(Some("bytes=4-")), "456789\n206");
    m.fault("/f", mirror::Fault::Status(503));
    assert_eq!(get(None), "\n503");
    assert_eq!(get(None), "0123456789\n200");
    assert_eq!(m.requests(), 4);
}
