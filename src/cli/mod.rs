//! The binary's subcommands, one file each; every file turns arguments into calls
//! of the library and errors into `anyhow` messages that say what to do.

pub mod allowlist;
pub mod bench;
pub mod cases;
pub mod config;
pub mod demo;
pub mod migrate;
pub mod pseudonymize;
pub mod replay;
pub mod run;
pub mod score;
pub mod simulate;
