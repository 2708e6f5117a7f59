//! Reading the Terraform: a module's `*.tf` files as one HCL body, and the blocks and literal
//! attributes the tests compare.

use std::path::Path;

use ::hcl::{Block, Body, Expression};

/// Every `*.tf` file of `dir`, parsed and concatenated into one body, as Terraform reads a module.
pub fn module(dir: &Path) -> Body {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .tf files in {}", dir.display());
    let structures = files.iter().flat_map(|path| {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        parse(&text, &path.display().to_string()).into_inner()
    });
    Body(structures.collect())
}

/// The module this crate sits in: `infra/`.
pub fn infra() -> Body {
    module(Path::new(env!("CARGO_MANIFEST_DIR")))
}

pub fn parse(text: &str, origin: &str) -> Body {
    hcl::from_str(text).unwrap_or_else(|e| panic!("{origin} is not valid HCL: {e}"))
}

/// The block `KIND "TYPE" "NAME"` (such as `resource "aws_lambda_function" "api"`).
pub fn block<'a>(body: &'a Body, kind: &str, type_: &str, name: &str) -> &'a Block {
    body.blocks()
        .find(|b| {
            b.identifier() == kind
                && b.labels().len() == 2
                && b.labels()[0].as_str() == type_
                && b.labels()[1].as_str() == name
        })
        .unwrap_or_else(|| panic!("the Terraform declares no {kind} {type_}.{name}"))
}

pub fn attribute<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// A literal string or bool attribute, as text; `None` when absent or computed.
pub fn literal(body: &Body, key: &str) -> Option<String> {
    match attribute(body, key)? {
        Expression::String(s) => Some(s.clone()),
        Expression::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list of literal strings, in order.
pub fn literal_list(body: &Body, key: &str) -> Vec<String> {
    match attribute(body, key) {
        Some(Expression::Array(items)) => items
            .iter()
            .map(|item| match item {
                Expression::String(s) => s.clone(),
                other => panic!("{key} holds {other}, where a literal string was expected"),
            })
            .collect(),
        None => Vec::new(),
        Some(other) => panic!("{key} is {other}, where a list of literal strings was expected"),
    }
}

/// The one nested block `name` of `body`, if any.
pub fn nested<'a>(body: &'a Body, name: &str) -> Option<&'a Body> {
    let mut found = body.blocks().filter(|b| b.identifier() == name);
    let first = found.next()?;
    assert!(found.next().is_none(), "more than one {name} block");
    Some(first.body())
}
