//! The house (issue 24): every `crate::` reference between the top-level modules of `src/`
//! points down or sideways, never up, so the modules form no import cycle. The test reads
//! the source itself (every `.rs` file under `src/` but `lib.rs` and `main.rs`), collects
//! each path starting with `crate::` (in `use` trees, grouped or not, in types and
//! expressions, and in macro bodies), and names every cycle it finds with one example
//! `file:line` for each arrow in it. Unit tests (`#[cfg(test)]` items and test modules'
//! files) are left out: a test drives its module from outside, as a caller would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::{self, Visit};

/// One `crate::` reference: the module it names and where.
struct Reference {
    to: String,
    line: usize,
}

/// Collects the `crate::X` references of one file, test code (`#[cfg(test)]`) left out: a
/// unit test drives its module from outside, as a caller would.
#[derive(Default)]
struct References {
    found: Vec<Reference>,
    /// Modules declared `#[cfg(test)] mod name;`, whose files are test code.
    test_files: Vec<String>,
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

impl References {
    fn push(&mut self, ident: &proc_macro2::Ident) {
        self.found.push(Reference {
            to: ident.to_string(),
            line: ident.span().start().line,
        });
    }

    /// A `use` tree at the top of a declaration: only a `crate::` prefix counts.
    fn use_root(&mut self, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) if p.ident == "crate" => self.use_first(&p.tree),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_root(t)),
            _ => {}
        }
    }

    /// The part of a `use` tree after `crate::`: its first names are top-level modules.
    fn use_first(&mut self, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => self.push(&p.ident),
            syn::UseTree::Name(n) => self.push(&n.ident),
            syn::UseTree::Rename(r) => self.push(&r.ident),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_first(t)),
            syn::UseTree::Glob(_) => {}
        }
    }

    /// `crate :: name` (or `$crate :: name`) inside a macro's tokens, which syn leaves
    /// unparsed.
    fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, tree) in trees.iter().enumerate() {
            match tree {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id) if id == "crate" => {
                    if let [
                        TokenTree::Punct(a),
                        TokenTree::Punct(b),
                        TokenTree::Ident(name),
                        ..,
                    ] = &trees[i + 1..]
                        && a.as_char() == ':'
                        && b.as_char() == ':'
                    {
                        self.push(name);
                    }
                }
                _ => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for References {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if is_cfg_test(item_attrs(item)) {
            if let syn::Item::Mod(m) = item
                && m.content.is_none()
            {
                self.test_files.push(m.ident.to_string());
            }
            return;
        }
        visit::visit_item(self, item);
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        if let syn::ImplItem::Fn(f) = item
            && is_cfg_test(&f.attrs)
        {
            return;
        }
        visit::visit_impl_item(self, item);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_root(&item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let mut segments = path.segments.iter();
        if let (Some(first), Some(second)) = (segments.next(), segments.next())
            && first.ident == "crate"
        {
            self.push(&second.ident);
        }
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        visit::visit_macro(self, mac);
    }
}

/// An arrow between two top-level modules, with its first reference and how many there are.
struct Arrow {
    example: String,
    count: usize,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to: `app/x.rs` → `app`, `util.rs` → `util`.
fn module_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.strip_suffix(".rs").unwrap_or(&first).to_string()
}

/// The graph between top-level modules: `from → to → arrow`.
fn module_graph() -> BTreeMap<String, BTreeMap<String, Arrow>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let files: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|f| {
            let relative = f.strip_prefix(&src).unwrap().to_path_buf();
            let module = module_of(&relative);
            (f, module)
        })
        .filter(|(f, _)| {
            !(f.parent() == Some(&*src) && (f.ends_with("lib.rs") || f.ends_with("main.rs")))
        })
        .collect();
    let modules: BTreeSet<String> = files.iter().map(|(_, m)| m.clone()).collect();
    let mut read = Vec::new();
    let mut test_files = BTreeSet::new();
    for (file, from) in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let parsed = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{}: cannot parse: {e}", file.display()));
        let mut refs = References::default();
        refs.visit_file(&parsed);
        // `mod name;` in `x/mod.rs` is `x/name.rs`; in `x/y.rs`, `x/y/name.rs`.
        let dir = if file.ends_with("mod.rs") {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        for name in &refs.test_files {
            test_files.insert(dir.join(format!("{name}.rs")));
            test_files.insert(dir.join(name).join("mod.rs"));
        }
        read.push((file, from, refs.found));
    }
    let mut graph: BTreeMap<String, BTreeMap<String, Arrow>> = BTreeMap::new();
    for (file, from, found) in read {
        if test_files.contains(file) {
            continue;
        }
        let shown = file.strip_prefix(root).unwrap().display().to_string();
        for r in found {
            if r.to == *from || !modules.contains(&r.to) {
                continue;
            }
            let arrow = graph
                .entry(from.clone())
                .or_default()
                .entry(r.to)
                .or_insert_with(|| Arrow {
                    example: format!("{shown}:{}", r.line),
                    count: 0,
                });
            arrow.count += 1;
        }
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<String, BTreeMap<String, Arrow>>) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g BTreeMap<String, BTreeMap<String, Arrow>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flat_map(|m| m.keys()) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.out.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out.sort();
    t.out
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let graph = module_graph();
    assert!(
        graph.contains_key("app") && graph.contains_key("web"),
        "the module graph read nothing from src/"
    );
    let found = cycles(&graph);
    let mut report = String::new();
    for (n, component) in found.iter().enumerate() {
        report.push_str(&format!("cycle {}: {}\n", n + 1, component.join(", ")));
        for from in component {
            for (to, arrow) in &graph[from] {
                if component.contains(to) {
                    report.push_str(&format!(
                        "  {from} -> {to}: {} ({} reference{})\n",
                        arrow.example,
                        arrow.count,
                        if arrow.count == 1 { "" } else { "s" }
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} import cycle(s) between the top-level modules of src/; every `crate::` \
         reference must point down or sideways:\n{report}",
        found.len()
    );
}

/// Every `.rs` file under `src/`, `lib.rs` and `main.rs` included.
fn src_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

/// The functions of one file with their first line and their length in lines.
struct Lengths {
    file: String,
    found: Vec<(String, usize, usize)>,
}

impl Lengths {
    fn note(&mut self, name: String, span: proc_macro2::Span) {
        let (start, end) = (span.start().line, span.end().line);
        self.found.push((
            format!("{}:{start} {name}", self.file),
            start,
            end - start + 1,
        ));
    }
}

impl<'ast> Visit<'ast> for Lengths {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.note(f.sig.ident.to_string(), syn::spanned::Spanned::span(f));
        visit::visit_item_fn(self, f);
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.note(f.sig.ident.to_string(), syn::spanned::Spanned::span(f));
        visit::visit_impl_item_fn(self, f);
    }
    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if f.default.is_some() {
            self.note(f.sig.ident.to_string(), syn::spanned::Spanned::span(f));
        }
        visit::visit_trait_item_fn(self, f);
    }
}

/// No function in `src/` is longer than 200 lines: a longer one is a list of steps that
/// want names (issue 24). A function is measured from its first attribute or doc line to
/// its closing brace.
#[test]
fn no_function_in_src_is_over_200_lines() {
    let mut long = Vec::new();
    let mut counted = 0;
    for path in src_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let rel = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .display()
            .to_string();
        let mut lengths = Lengths {
            file: rel,
            found: Vec::new(),
        };
        lengths.visit_file(&file);
        counted += lengths.found.len();
        long.extend(lengths.found.into_iter().filter(|(_, _, len)| *len > 200));
    }
    assert!(
        counted > 1000,
        "the walk found only {counted} functions: is the parser reading src/?"
    );
    let list: Vec<String> = long
        .iter()
        .map(|(at, _, len)| format!("{at} ({len} lines)"))
        .collect();
    assert!(
        list.is_empty(),
        "functions over 200 lines:\n{}",
        list.join("\n")
    );
}

/// No file in `src/` is longer than 1,000 lines.
#[test]
fn no_file_in_src_is_over_1000_lines() {
    let long: Vec<String> = src_files()
        .into_iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(&path).unwrap().lines().count();
            (lines > 1000).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over 1,000 lines:\n{}",
        long.join("\n")
    );
}

/// `src/lib.rs`'s `//!` tour names every module the crate declares, as a link.
#[test]
fn the_tour_names_every_module() {
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let tour: String = lib
        .lines()
        .filter(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("pub mod ")
                .and_then(|m| m.strip_suffix(';'))
        })
        .collect();
    assert!(modules.len() > 10, "lib.rs declares only {modules:?}");
    let missing: Vec<&&str> = modules
        .iter()
        .filter(|m| !tour.contains(&format!("[`{m}`]")))
        .collect();
    assert!(
        missing.is_empty(),
        "the tour in src/lib.rs does not name {missing:?}"
    );
}
