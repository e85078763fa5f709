//! `monstack init`: write the commented default config.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use super::{Context, Outcome};
use crate::cli::InitArgs;
use crate::error::with_hint;

/// `monstack init`.
pub fn init(ctx: &Context, args: &InitArgs) -> crate::error::Result<Outcome> {
    let path =
        ctx.config_path.clone().unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_PATHS[0]));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)
            .map_err(|e| crate::failure!("cannot create `{}`: {e}", dir.display()))?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true);
    if args.force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut file = match opts.open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(with_hint(
                crate::failure!("`{}` already exists", path.display()),
                "pass --force to overwrite it",
            ));
        }
        Err(e) => crate::bail!("cannot write `{}`: {e}", path.display()),
    };
    file.write_all(crate::render::INIT_CONFIG.as_bytes())
        .map_err(|e| crate::failure!("cannot write `{}`: {e}", path.display()))?;
    ctx.out.info(format!("wrote {}", path.display()));
    Ok(Outcome::Done)
}
