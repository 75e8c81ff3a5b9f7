//! The machinery behind `settings.rs`: a declarative macro that turns one declaration per
//! setting into everything that used to be written four times (the `picops serve` flag, its
//! `PICOPS_*` variable, the `picops.toml` key, the default and the doc).
//!
//! A small `macro_rules!` wins here over the alternatives: clap's own `default_value` would
//! hide whether a value came from the command line (so the file could not sit under the
//! environment), serde's `flatten` cannot be combined with `deny_unknown_fields` (and loses
//! the line numbers of TOML errors), and a layered-configuration crate would still need the
//! flags declared a second time for clap. From each declaration the macro generates:
//!
//! - a field of [`ServeArgs`](super::ServeArgs) (`Option<T>` or `Vec<T>`: flag, environment
//!   variable, help text with the default and the file key);
//! - a field of the `picops.toml` structs (same type, `deny_unknown_fields`, so error
//!   messages are serde's, with the file's line and column);
//! - a field of [`Settings`](super::Settings), the layered value: `T` when the setting has a
//!   default, `Option<T>` when it has none, `Vec<T>` for lists;
//! - an entry of [`SETTINGS`](super::SETTINGS), from which `--help` and
//!   `picops.example.toml` ([`example_toml`]) are written and the tests check completeness.
//!
//! Layering: default < `picops.toml` < `PICOPS_*` < flag. clap resolves flag over variable;
//! the file fills what clap left empty; the default fills the rest. Lists (`Vec`) are joined
//! instead: what the flags (or else the variable) name, then the file's entries.
//!
//! Defaults and examples are written as TOML values (`30`, `"127.0.0.1:8080"`,
//! `["a", "b"]`): the example file shows them verbatim, and they are read with the same
//! deserializer as the file, so a default cannot mean something else than the same text in
//! `picops.toml`.

use serde::de::DeserializeOwned;

/// One setting: where it is read from and what it defaults to.
#[derive(Debug)]
pub struct Setting {
    /// `picops.toml` table, `""` for the top level.
    pub section: &'static str,
    /// Key inside `section`.
    pub key: &'static str,
    /// Long flag of `picops serve`, without the dashes.
    pub flag: &'static str,
    /// Environment variable.
    pub env: &'static str,
    /// Doc lines, as written (each usually starts with a space).
    pub doc: &'static [&'static str],
    /// Default, as a TOML value; `None`: absent unless set (or computed, as the doc says).
    pub default: Option<&'static str>,
    /// Value shown (commented out) in `picops.example.toml` when there is no default.
    pub example: Option<&'static str>,
    /// Flags, the environment and the file add up instead of overriding each other.
    pub list: bool,
    /// Reads a TOML value as this setting's type.
    pub check: fn(&str) -> Result<(), String>,
}

impl Setting {
    /// `limits.max_body`, or `listen` at the top level.
    pub fn path(&self) -> String {
        if self.section.is_empty() {
            self.key.to_string()
        } else {
            format!("{}.{}", self.section, self.key)
        }
    }
}

/// A `picops.toml` table of settings, in the order written.
#[derive(Debug)]
pub struct Section {
    pub name: &'static str,
    /// `picops serve --help` heading of its flags.
    pub heading: &'static str,
    pub doc: &'static [&'static str],
}

/// A structured table only the file can hold (`[domains]`, `[[credentials]]`, `[styles]`).
#[derive(Debug)]
pub struct Table {
    pub key: &'static str,
    pub doc: &'static [&'static str],
    /// TOML text shown in `picops.example.toml`.
    pub example: &'static str,
}

/// Reads one TOML value (a default, an example) as `T`, as the file's values are read.
pub fn parse_value<T: DeserializeOwned>(value: &str) -> Result<T, String> {
    T::deserialize(toml::de::ValueDeserializer::new(value)).map_err(|e| e.to_string())
}

pub fn check_value<T: DeserializeOwned>(value: &str) -> Result<(), String> {
    parse_value::<T>(value).map(drop)
}

/// A default as it is typed on the command line: strings without their quotes.
pub fn shown(value: &str) -> String {
    match parse_value::<toml::Value>(value) {
        Ok(toml::Value::String(s)) => s,
        Ok(v) => v.to_string(),
        Err(_) => value.to_string(),
    }
}

fn doc_text(doc: &[&str]) -> String {
    doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")
}

/// Help of the flag of the setting at `path`: its doc, the default and the file key (clap
/// adds the environment variable).
pub fn help(path: &str) -> String {
    let Some(s) = super::SETTINGS.iter().find(|s| s.path() == path) else {
        return String::new();
    };
    let mut text = doc_text(s.doc);
    if s.list {
        text.push_str(" Repeatable or comma-separated; added to the file's list.");
    }
    if let Some(d) = s.default {
        text.push_str(&format!(" [default: {}]", shown(d)));
    }
    text.push_str(&format!(" [picops.toml: {path}]"));
    text
}

const EXAMPLE_HEADER: &str = "\
# picops configuration. Every key is optional; the value shown is the default, and a
# commented-out key has none. PICOPS_* environment variables override this file, and flags
# override those (`picops serve --help`); lists are added to instead.
#
# Generated from proxy/src/config/settings.rs (see the test `example_file_is_generated`);
# edit the declarations there, not this file.
";

fn comment(out: &mut String, doc: &[&str]) {
    for line in doc {
        out.push('#');
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn write_setting(out: &mut String, s: &Setting) {
    out.push('\n');
    comment(out, s.doc);
    out.push_str(&format!("# --{}, {}\n", s.flag, s.env));
    match (s.default, s.example) {
        (Some(d), _) => out.push_str(&format!("{} = {d}\n", s.key)),
        (None, Some(e)) => out.push_str(&format!("# {} = {e}\n", s.key)),
        (None, None) => out.push_str(&format!("# {} =\n", s.key)),
    }
}

/// `picops.example.toml`, written from the declarations: every setting with its doc, flag,
/// environment variable and default (or an example, commented out), then the tables.
pub fn example_toml() -> String {
    let mut out = String::from(EXAMPLE_HEADER);
    for s in super::SETTINGS.iter().filter(|s| s.section.is_empty()) {
        write_setting(&mut out, s);
    }
    for t in super::TABLES {
        out.push('\n');
        comment(&mut out, t.doc);
        out.push_str(t.example.trim_start_matches('\n'));
    }
    for section in super::SECTIONS {
        out.push('\n');
        comment(&mut out, section.doc);
        out.push_str(&format!("[{}]\n", section.name));
        for s in super::SETTINGS.iter().filter(|s| s.section == section.name) {
            write_setting(&mut out, s);
        }
    }
    out
}

/// Declares the settings; see the module doc. Grammar:
///
/// ```text
/// command_line_only { <ServeArgs fields, verbatim> }
/// root { <setting>* }
/// tables { /// doc
///          field: Type { key: "k", example: r#"<toml>"# } ... }
/// /// doc
/// [section] SectionFileStruct, heading: "Heading" { <setting>* } ...
///
/// <setting> = /// doc
///             field: Option<T> | Vec<T> {
///                 key: "k", flag: "f", env: "PICOPS_F"
///                 [, default: <toml literal> [as CONST_NAME]]
///                 [, example: <toml value>] [, hide_env_values: true]
///             }
/// ```
macro_rules! settings {
    (
        command_line_only { $($only:tt)* }
        root {
            $(
                $(#[doc = $rdoc:literal])*
                $rfield:ident: $rwrap:ident<$rty:ty> {
                    key: $rkey:literal, flag: $rflag:literal, env: $renv:literal
                    $(, default: $rdefault:literal $(as $rconst:ident)?)?
                    $(, example: $rexample:tt)?
                    $(, hide_env_values: $rsecret:literal)?
                    $(,)?
                }
            )*
        }
        tables {
            $(
                $(#[doc = $tdoc:literal])*
                $tfield:ident: $tty:ty { key: $tkey:literal, example: $texample:literal $(,)? }
            )*
        }
        $(
            $(#[doc = $sdoc:literal])*
            [$section:ident] $SectionFile:ident, heading: $heading:literal {
                $(
                    $(#[doc = $doc:literal])*
                    $field:ident: $wrap:ident<$ty:ty> {
                        key: $key:literal, flag: $flag:literal, env: $env:literal
                        $(, default: $default:literal $(as $const:ident)?)?
                        $(, example: $example:tt)?
                        $(, hide_env_values: $secret:literal)?
                        $(,)?
                    }
                )*
            }
        )*
    ) => {
        /// `picops serve` flags (each with its `PICOPS_*` variable). Generated by
        /// `settings!`: one field per setting, plus the command-line-only ones.
        #[derive(Debug, Default, clap::Args)]
        pub struct ServeArgs {
            $($only)*
            $(
                #[arg(
                    long = $rflag,
                    env = $renv,
                    help = $crate::config::declare::help($rkey),
                    value_delimiter = settings!(@delimiter $rwrap)
                    $(, hide_env_values = $rsecret)?
                )]
                pub $rfield: $rwrap<$rty>,
            )*
            $($(
                #[arg(
                    long = $flag,
                    env = $env,
                    help = $crate::config::declare::help(concat!(stringify!($section), ".", $key)),
                    help_heading = $heading,
                    value_delimiter = settings!(@delimiter $wrap)
                    $(, hide_env_values = $secret)?
                )]
                pub $field: $wrap<$ty>,
            )*)*
        }

        /// `picops.toml`.
        #[derive(Debug, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct FileConfig {
            $(
                #[serde(default, rename = $rkey)]
                $rfield: $rwrap<$rty>,
            )*
            $(
                #[serde(default, rename = $tkey)]
                $tfield: $tty,
            )*
            $(
                #[serde(default)]
                $section: $SectionFile,
            )*
        }

        $(
            #[derive(Debug, Default, serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            pub(super) struct $SectionFile {
                $(
                    #[serde(default, rename = $key)]
                    $field: $wrap<$ty>,
                )*
            }
        )*

        /// The file's structured tables.
        #[derive(Debug, Default)]
        pub(super) struct Tables {
            $( pub $tfield: $tty, )*
        }

        /// Every setting with its layers applied (default < file < environment < flag):
        /// `T` where there is a default, `Option<T>` where there is none, `Vec<T>` for lists.
        #[derive(Debug)]
        pub struct Settings {
            $( pub $rfield: settings!(@resolved $rwrap<$rty> $(, $rdefault)?), )*
            $($( pub $field: settings!(@resolved $wrap<$ty> $(, $default)?), )*)*
        }

        impl Settings {
            /// Layers `args` (flags over the environment, by clap) over `file` over the
            /// defaults; also hands back the file's tables.
            pub(super) fn layer(
                args: &ServeArgs,
                file: FileConfig,
            ) -> Result<(Settings, Tables), String> {
                let settings = Settings {
                    $(
                        $rfield: settings!(@layer $rwrap, args.$rfield.clone(),
                            file.$rfield, $rkey $(, $rdefault)?),
                    )*
                    $($(
                        $field: settings!(@layer $wrap, args.$field.clone(),
                            file.$section.$field,
                            concat!(stringify!($section), ".", $key) $(, $default)?),
                    )*)*
                };
                Ok((settings, Tables { $( $tfield: file.$tfield, )* }))
            }
        }

        $($( $( pub const $rconst: $rty = $rdefault; )? )?)*
        $($($( $( pub const $const: $ty = $default; )? )?)*)*

        /// Every setting, in declaration order.
        pub const SETTINGS: &[$crate::config::declare::Setting] = &[
            $(
                $crate::config::declare::Setting {
                    section: "",
                    key: $rkey,
                    flag: $rflag,
                    env: $renv,
                    doc: &[$($rdoc),*],
                    default: settings!(@option $(stringify!($rdefault))?),
                    example: settings!(@option $(stringify!($rexample))?),
                    list: settings!(@list $rwrap),
                    check: $crate::config::declare::check_value::<$rwrap<$rty>>,
                },
            )*
            $($(
                $crate::config::declare::Setting {
                    section: stringify!($section),
                    key: $key,
                    flag: $flag,
                    env: $env,
                    doc: &[$($doc),*],
                    default: settings!(@option $(stringify!($default))?),
                    example: settings!(@option $(stringify!($example))?),
                    list: settings!(@list $wrap),
                    check: $crate::config::declare::check_value::<$wrap<$ty>>,
                },
            )*)*
        ];

        pub const SECTIONS: &[$crate::config::declare::Section] = &[
            $(
                $crate::config::declare::Section {
                    name: stringify!($section),
                    heading: $heading,
                    doc: &[$($sdoc),*],
                },
            )*
        ];

        pub const TABLES: &[$crate::config::declare::Table] = &[
            $(
                $crate::config::declare::Table {
                    key: $tkey,
                    doc: &[$($tdoc),*],
                    example: $texample,
                },
            )*
        ];
    };

    (@delimiter Option) => { None::<char> };
    (@delimiter Vec) => { Some(',') };

    (@list Option) => { false };
    (@list Vec) => { true };

    (@option) => { None };
    (@option $e:expr) => { Some($e) };

    (@resolved Option<$ty:ty>, $default:literal) => { $ty };
    (@resolved Option<$ty:ty>) => { Option<$ty> };
    (@resolved Vec<$ty:ty>) => { Vec<$ty> };

    (@layer Option, $arg:expr, $file:expr, $path:expr, $default:literal) => {
        match $arg.or($file) {
            Some(v) => v,
            None => $crate::config::declare::parse_value(stringify!($default))
                .map_err(|e| format!("default of {}: {e}", $path))?,
        }
    };
    (@layer Option, $arg:expr, $file:expr, $path:expr) => {
        $arg.or($file)
    };
    (@layer Vec, $arg:expr, $file:expr, $path:expr) => {{
        let mut all = $arg;
        all.extend($file);
        all
    }};
}

pub(crate) use settings;
