//! Where things are in the YAML text: the one walker over a config's parse events.
//!
//! [`Index::of`] walks the document once and remembers, for every node, the 1-based
//! line and column of its key (mapping values) or item (sequence items), and the
//! position of the second occurrence of every duplicate key. Field paths are the ones
//! `serde_path_to_error` and the checks use: `a.b[2].c`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::error::ConfigError;

/// 1-based line and column.
pub type Position = (usize, usize);

/// Positions of the nodes and duplicate keys of one YAML document.
#[derive(Debug, Default, Clone)]
pub struct Index {
    nodes: HashMap<Vec<String>, Position>,
    duplicates: HashMap<(Vec<String>, String), Position>,
}

impl Index {
    /// Walk `source` once. Text that does not parse yields what was read before the error.
    pub fn of(source: &str) -> Self {
        let mut w = Walker::default();
        let _ = Parser::new_from_str(source).load(&mut w, false);
        w.index
    }

    /// The position of `field`, or of its nearest existing ancestor (e.g. a missing
    /// key's parent). `None` for the top level or when nothing of it is in the text.
    pub fn locate(&self, field: &str) -> Option<Position> {
        let mut path = split_field_path(field);
        while !path.is_empty() {
            if let Some(&p) = self.nodes.get(&path) {
                return Some(p);
            }
            path.pop();
        }
        None
    }

    /// Whether the text sets `field` itself (not only an ancestor of it).
    pub fn has(&self, field: &str) -> bool {
        self.nodes.contains_key(&split_field_path(field))
    }

    /// The position of the second `key` in the mapping at `parent` (a field path, `.`
    /// for the top level).
    pub fn duplicate(&self, parent: &str, key: &str) -> Option<Position> {
        self.duplicates.get(&(split_field_path(parent), key.to_string())).copied()
    }
}

/// Locate a dotted field path (`a.b[2].c`) in YAML text; see [`Index::locate`].
pub fn locate(source: &str, field: &str) -> Option<Position> {
    Index::of(source).locate(field)
}

/// A config error at `field`, located through `index`.
pub(super) fn error_in(
    path: &Path,
    index: &Index,
    field: &str,
    message: impl Into<String>,
) -> ConfigError {
    let mut e = ConfigError::new(path, Some(field.to_string()), message);
    if let Some((l, c)) = index.locate(field) {
        e.line = Some(l);
        e.column = Some(c);
    }
    e
}

enum Frame {
    Map {
        key: Option<String>,
        expecting_key: bool,
        key_mark: Option<Marker>,
        keys: HashSet<String>,
    },
    Seq {
        index: usize,
    },
}

#[derive(Default)]
struct Walker {
    stack: Vec<Frame>,
    path: Vec<String>,
    /// A mapping that is a sequence item: a block mapping's own mark points past its
    /// first key, so it takes the mark of that key instead.
    pending: Option<Vec<String>>,
    index: Index,
}

fn position(m: Marker) -> Position {
    (m.line(), m.col() + 1)
}

impl Walker {
    /// Called before a value node starts: compute its path and record its mark.
    fn enter_value(&mut self, mark: Marker, is_map: bool) {
        let (seg, m, in_map) = match self.stack.last_mut() {
            Some(Frame::Map { key, expecting_key, key_mark, .. }) => {
                if *expecting_key {
                    return;
                }
                (key.clone().unwrap_or_default(), key_mark.unwrap_or(mark), true)
            }
            Some(Frame::Seq { index }) => (format!("[{index}]"), mark, false),
            None => return,
        };
        self.path.push(seg);
        if is_map && !in_map {
            if !self.index.nodes.contains_key(&self.path) {
                self.pending = Some(self.path.clone());
            }
        } else {
            self.index.nodes.entry(self.path.clone()).or_insert(position(m));
        }
    }

    fn leave_value(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map { expecting_key, .. }) if !*expecting_key => {
                self.path.pop();
                *expecting_key = true;
            }
            Some(Frame::Map { .. }) | None => {}
            Some(Frame::Seq { index }) => {
                self.path.pop();
                *index += 1;
            }
        }
    }

    /// A scalar in key position: remember it, its mark, and whether it repeats.
    fn key(&mut self, v: String, mark: Marker) {
        if let Some(p) = self.pending.take() {
            self.index.nodes.entry(p).or_insert(position(mark));
        }
        let Some(Frame::Map { key, expecting_key, key_mark, keys }) = self.stack.last_mut() else {
            return;
        };
        if !keys.insert(v.clone()) {
            self.index.duplicates.entry((self.path.clone(), v.clone())).or_insert(position(mark));
        }
        *key = Some(v);
        *key_mark = Some(mark);
        *expecting_key = false;
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(v, ..) => {
                if let Some(Frame::Map { expecting_key: true, .. }) = self.stack.last() {
                    self.key(v, mark);
                } else {
                    self.enter_value(mark, false);
                    self.leave_value();
                }
            }
            Event::MappingStart(..) => {
                self.enter_value(mark, true);
                self.stack.push(Frame::Map {
                    key: None,
                    expecting_key: true,
                    key_mark: None,
                    keys: HashSet::new(),
                });
            }
            Event::SequenceStart(..) => {
                self.enter_value(mark, false);
                self.stack.push(Frame::Seq { index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.pending = None;
                self.stack.pop();
                self.leave_value();
            }
            Event::Alias(_) => {
                self.enter_value(mark, false);
                self.leave_value();
            }
            _ => {}
        }
    }
}

/// `a.b[2].c` -> `["a", "b", "[2]", "c"]`.
fn split_field_path(field: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in field.split('.') {
        if part.is_empty() {
            continue;
        }
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                out.push(rest[..i].to_string());
            }
            rest = &rest[i..];
            while let Some(end) = rest.find(']') {
                out.push(rest[..=end].to_string());
                rest = &rest[end + 1..];
            }
        } else {
            out.push(rest.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_nested_fields() {
        let src = "prometheus:\n  scrape_configs:\n    - job_name: a\n      targets: [x:1]\n    - job_name: b\n      targets: [y:2]\n";
        assert_eq!(locate(src, "prometheus.scrape_configs[1].job_name"), Some((5, 7)));
        assert_eq!(locate(src, "prometheus.scrape_configs[0].targets[0]"), Some((4, 17)));
        assert_eq!(locate(src, "prometheus"), Some((1, 1)));
        assert_eq!(locate(src, "prometheus.scrape_configs[1]"), Some((5, 7)));
        // A missing key falls back to its nearest ancestor.
        assert_eq!(locate(src, "prometheus.scrape_configs[1].metrics_path"), Some((5, 7)));
        assert_eq!(locate(src, "."), None);
    }

    #[test]
    fn duplicates_point_at_the_second_key() {
        let src = "a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\na: 2\n";
        let i = Index::of(src);
        assert_eq!(i.duplicate("b", "x"), Some((5, 3)));
        assert_eq!(i.duplicate(".", "a"), Some((6, 1)));
        assert_eq!(i.duplicate(".", "b"), None);
    }
}
