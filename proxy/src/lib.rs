//! picops as a library: the modules of the `picops` binary, also used by the fuzz targets.

pub mod access;
pub mod allocator;
pub mod auth;
pub mod body_guard;
pub mod cli;
pub mod config;
pub mod embedded;
pub mod error;
pub mod listing;
pub mod metrics;
pub mod offline;
pub mod ops;
pub mod pic_ops;
pub mod proxy;
pub mod rate_limit;
pub mod realtime;
pub mod route;
pub mod serve;
pub mod sign;
pub mod styles;
pub mod timeouts;
pub mod upload;
pub mod upstream;
pub mod watermarks;
pub mod xml;
