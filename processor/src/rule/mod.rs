//! Rule grammar: a typed AST and its single parser.

pub mod ast;
mod parse;
mod values;

pub use ast::*;
pub use parse::parse_rule;
pub use values::decode_base64;
