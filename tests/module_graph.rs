//! The modules of both crates depend on each other one way only: shared
//! types live in leaf modules, and no two modules (files) reach each other,
//! directly or around a loop. The graph is read from the sources: every
//! `crate::a::b` and `super::x` path outside comments and test modules is
//! an edge to the module it names (a name a `mod.rs` re-exports with
//! `pub use child::Name` counts as an edge to `child`).
//!
//! `cargo test --test module_graph -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every `.rs` file below `dir` as (module path, source).
fn modules(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            modules(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            out.insert(parts.join("::"), std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The source without comments and without its `#[cfg(test)] mod tests`.
fn code(source: &str) -> String {
    let source = match source.find("#[cfg(test)]\nmod tests") {
        Some(i) => &source[..i],
        None => source,
    };
    source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers of `text` (words of letters, digits and `_`).
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Paths starting at `crate::` or `super::`: (start, segments), one per
/// item of a `{a::X, b::Y}` group.
fn paths(code: &str) -> Vec<(&'static str, Vec<String>)> {
    let mut found = Vec::new();
    for start in ["crate::", "super::"] {
        for (i, _) in code.match_indices(start) {
            let before = code[..i].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[i + start.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let prefix: Vec<String> = words(&rest[..end])
                .into_iter()
                .map(str::to_string)
                .collect();
            let start = start.trim_end_matches(':');
            let group = rest[end..]
                .strip_prefix('{')
                .and_then(|g| g.find('}').map(|c| &g[..c]));
            match group {
                Some(items) => {
                    for item in items.split(',') {
                        let mut path = prefix.clone();
                        path.extend(words(item).into_iter().map(str::to_string));
                        found.push((start, path));
                    }
                }
                None => found.push((start, prefix)),
            }
        }
    }
    found
}

fn graph(root: &Path) -> Graph {
    let mut sources = BTreeMap::new();
    modules(root, root, &mut sources);
    let names: BTreeSet<String> = sources.keys().cloned().collect();
    let join = |parent: &str, child: &str| {
        if parent.is_empty() {
            child.to_string()
        } else {
            format!("{parent}::{child}")
        }
    };
    // `pub use child::{A, B}` in a module: A and B stand for `child`.
    let mut reexports: BTreeMap<(String, String), String> = BTreeMap::new();
    for (module, source) in &sources {
        for line in code(source).lines() {
            let Some(rest) = line.trim().strip_prefix("pub use ") else {
                continue;
            };
            let items = words(rest);
            if let Some((child, names_used)) = items.split_first() {
                let child = join(module, child);
                if names.contains(&child) {
                    for name in names_used {
                        reexports.insert((module.clone(), name.to_string()), child.clone());
                    }
                }
            }
        }
    }
    let mut edges = Graph::new();
    for (module, source) in &sources {
        let last = module.rsplit("::").next().unwrap_or("");
        if last == "tests" || last.ends_with("_tests") {
            continue;
        }
        let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
        let out = edges.entry(module.clone()).or_default();
        for (start, segments) in paths(&code(source)) {
            let base: Vec<String> = if start == "crate" || parent.is_empty() {
                Vec::new()
            } else {
                parent.split("::").map(str::to_string).collect()
            };
            // Each name in a `{...}` group is its own path: try every prefix.
            for cut in (1..=segments.len()).rev() {
                let mut full = base.clone();
                full.extend(segments[..cut].iter().cloned());
                let candidate = full.join("::");
                if !names.contains(&candidate) {
                    continue;
                }
                let target = segments
                    .get(cut)
                    .and_then(|next| reexports.get(&(candidate.clone(), next.clone())))
                    .cloned()
                    .unwrap_or(candidate);
                let ancestor = module.starts_with(&format!("{target}::")) || target.is_empty();
                if target != *module && !ancestor {
                    out.insert(target);
                }
                break;
            }
        }
    }
    edges
}

/// The modules on some cycle of `graph` (Tarjan's strongly connected
/// components of more than one module).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                s.low.entry(v).and_modify(|l| *l = (*l).min(lw));
            } else if s.stack.contains(&w) {
                let iw = s.index[w];
                s.low.entry(v).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn check(crate_dir: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate_dir);
    let graph = graph(&root);
    for (module, deps) in &graph {
        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
        println!("{crate_dir}: {module} -> {}", deps.join(", "));
    }
    assert!(graph.len() > 10, "too few modules read from {crate_dir}");
    let found = cycles(&graph);
    assert!(found.is_empty(), "module cycles in {crate_dir}: {found:?}");
}

#[test]
fn the_main_crate_has_no_module_cycle() {
    check("src");
}

#[test]
fn the_reference_crate_has_no_module_cycle() {
    check("reference/src");
}

#[test]
fn the_checker_finds_a_cycle() {
    let mut graph = Graph::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    graph.entry("c".into()).or_default().insert("a".into());
    graph.entry("d".into()).or_default().insert("a".into());
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
    let code = "use super::{fill::DataMode, spec::SuiteCase};\nlet x = crate::verify::verify(p);";
    let found = paths(code);
    assert_eq!(found[0].0, "crate");
    assert_eq!(found[0].1, ["verify", "verify"]);
    assert_eq!(found.len(), 3);
    assert_eq!(found[1].1, ["fill", "DataMode"]);
    assert_eq!(found[2].1, ["spec", "SuiteCase"]);
}
