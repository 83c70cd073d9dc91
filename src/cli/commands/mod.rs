//! One module per subcommand: its clap arguments (`<Name>Args`), its help
//! examples (`AFTER_HELP`) and its `run` function. `upgrade` and
//! `downgrade` share one module, [`migrate`], run with a direction. What
//! the database commands share lives below them, in [`crate::cli::database`].

pub mod branches;
pub mod check;
pub mod current;
pub mod diff;
pub mod graph;
pub mod heads;
pub mod history;
pub mod import_alembic;
pub mod init;
pub mod log;
pub mod merge;
pub mod migrate;
pub mod plan;
pub mod revision;
pub mod schema;
pub mod show;
pub mod stamp;
pub mod verify;
