//! Rule grammar: a typed AST and its single parser.

pub mod ast;
mod parse;

pub use ast::*;
pub use parse::{decode_base64, parse_rule};
