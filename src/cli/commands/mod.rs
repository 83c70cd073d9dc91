//! One module per subcommand: its clap arguments (`<Name>Args`), its help
//! examples (`AFTER_HELP`) and its `run` function.

pub mod branches;
pub mod check;
pub mod db;
pub mod graph;
pub mod heads;
pub mod history;
pub mod import_alembic;
pub mod init;
pub mod merge;
pub mod plan;
pub mod revision;
pub mod show;
