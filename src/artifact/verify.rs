//! SHA-256 while streaming: a reader that hashes every byte that passes through it
//! (and optionally tees the bytes into a file), and the `sha256sums.txt` parser.

use std::fs::File;
use std::io::{self, Read, Write};

use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

/// Find the digest of `file_name` in a `sha256sums.txt` (`<hex>  <name>` lines),
/// matching the name exactly; the position of the line never matters.
pub fn find_digest(sums: &str, file_name: &str) -> Option<String> {
    sums.lines().find_map(|line| {
        let (hex, name) = line.trim_end().split_once(char::is_whitespace)?;
        let name = name.trim_start().trim_start_matches('*');
        (name == file_name && is_digest(hex)).then(|| hex.to_ascii_lowercase())
    })
}

/// The digest in a `.sha256` file published beside a tarball, in either of the
/// formats Grafana has used: a bare hash (up to 12.4.2), or `<hash>  <path>` whose
/// path ends in the tarball's name (12.4.3: `dist/grafana_..._linux_amd64.tar.gz`).
/// A line naming another file is refused rather than trusted.
pub fn sidecar_digest(text: &str, file_name: &str) -> Result<String, String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let mut words = line.split_whitespace();
    let hex = words.next().unwrap_or("");
    if !is_digest(hex) {
        return Err(format!(
            "`{}` is not a SHA-256 digest",
            hex.chars().take(80).collect::<String>()
        ));
    }
    match words.next() {
        None => Ok(hex.to_ascii_lowercase()),
        Some(path) => {
            let name = path.trim_start_matches('*').rsplit('/').next().unwrap_or("");
            if name == file_name {
                Ok(hex.to_ascii_lowercase())
            } else {
                Err(format!("it names `{path}`, not `{file_name}`"))
            }
        }
    }
}

/// 64 hex characters.
pub fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Hashes everything read through it and counts the bytes.
pub struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    progress: Option<ProgressBar>,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R, progress: Option<ProgressBar>) -> Self {
        Self { inner, hasher: Sha256::new(), bytes: 0, progress }
    }

    /// Read to the end (a tar archive ends before the gzip stream does) and
    /// return the hex digest and the byte count.
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((hex::encode(self.hasher.finalize()), self.bytes))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        if let Some(p) = &self.progress {
            p.inc(n as u64);
        }
        Ok(n)
    }
}

/// Copies everything read through it into a file (the cache's `.partial`).
pub struct Tee<R> {
    inner: R,
    sink: File,
}

impl<R: Read> Tee<R> {
    pub fn new(inner: R, sink: File) -> Self {
        Self { inner, sink }
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_found_by_exact_name_not_position() {
        let sums = format!(
            "{}  prometheus-2.45.0.darwin-amd64.tar.gz\n{}  prometheus-2.45.0.linux-amd64.tar.gz.sig\n{}  prometheus-2.45.0.linux-amd64.tar.gz\n",
            "0".repeat(64),
            "1".repeat(64),
            "AB".repeat(32)
        );
        assert_eq!(
            find_digest(&sums, "prometheus-2.45.0.linux-amd64.tar.gz"),
            Some("ab".repeat(32))
        );
        assert_eq!(find_digest(&sums, "prometheus-2.45.0.linux-arm64.tar.gz"), None);
    }

    #[test]
    fn sidecar_in_both_formats_and_a_wrong_name_refused() {
        let f = "grafana_12.4.3_24388279614_linux_amd64.tar.gz";
        let h = "Ab".repeat(32);
        assert_eq!(sidecar_digest(&format!("{h}\n"), f), Ok("ab".repeat(32)));
        assert_eq!(sidecar_digest(&format!("{h}  dist/{f}\n"), f), Ok("ab".repeat(32)));
        assert_eq!(sidecar_digest(&format!("{h} *{f}"), f), Ok("ab".repeat(32)));
        let other = sidecar_digest(&format!("{h}  dist/grafana_12.4.3_1_linux_arm64.tar.gz"), f);
        assert!(other.unwrap_err().contains("not `grafana_12.4.3"));
        assert!(sidecar_digest("<html>not found</html>", f).is_err());
        assert!(sidecar_digest("", f).is_err());
    }

    #[test]
    fn hashing_reader_reads_to_the_end() {
        let h = Hashing::new(&b"abc"[..], None);
        let (hex, n) = h.finish().unwrap();
        assert_eq!(n, 3);
        assert_eq!(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
