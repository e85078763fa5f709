//! `monstack render`: every host file into a directory.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Context, Outcome};
use crate::cli::RenderArgs;
use crate::render::{self, RenderedFile};

/// `monstack render`.
pub fn render(ctx: &Context, args: &RenderArgs) -> crate::error::Result<Outcome> {
    let loaded = ctx.load_config()?;
    // Everything is rendered in memory first: a bad config writes nothing.
    let files = render::render_all(&loaded, args.templates.as_deref())?;
    render::write_tree(&args.out, &files)?;
    let summary =
        RenderSummary { out: &args.out, files: files.iter().map(FileSummary::from).collect() };
    ctx.out.result(&summary, || {
        files.iter().map(|f| format!("{:04o} {}\n", f.mode, f.path.display())).collect()
    });
    ctx.out.info(format!("rendered {} files into {}", files.len(), args.out.display()));
    Ok(Outcome::Done)
}

#[derive(Serialize)]
struct RenderSummary<'a> {
    out: &'a Path,
    files: Vec<FileSummary>,
}

#[derive(Serialize)]
struct FileSummary {
    path: PathBuf,
    mode: String,
    owner: Option<String>,
    group: Option<String>,
    role: String,
    bytes: usize,
}

impl From<&RenderedFile> for FileSummary {
    fn from(f: &RenderedFile) -> Self {
        Self {
            path: f.path.clone(),
            mode: format!("{:04o}", f.mode),
            owner: f.owner.clone(),
            group: f.group.clone(),
            role: f.role.label(),
            bytes: f.content.len(),
        }
    }
}
