//! The binary's subcommands, one file each; every file turns arguments into calls
//! of the library and errors into `anyhow` messages that say what to do.

pub(crate) mod allowlist;
pub(crate) mod bench;
pub(crate) mod cases;
pub(crate) mod config;
pub(crate) mod console;
pub(crate) mod demo;
pub(crate) mod migrate;
pub(crate) mod pseudonymize;
pub(crate) mod repartition;
pub(crate) mod replay;
pub(crate) mod run;
pub(crate) mod score;
pub(crate) mod simulate;
