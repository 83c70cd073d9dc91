//! Conversion of an Alembic project into a native mergepoint project
//! (`mergepoint import-alembic`).
//!
//! The graph (ids, parents, depends_on, branch labels, messages) comes from
//! our own static reader ([`crate::script`]), so the result is exactly what
//! mergepoint sees in the Alembic directory. The SQL comes from Alembic
//! itself: a small Python driver (`driver.py`, embedded in the binary) loads
//! the project with Alembic's `ScriptDirectory` and runs each revision's
//! `upgrade()` and `downgrade()` under an offline (`as_sql`) migration
//! context, the way `alembic upgrade --sql` does, capturing only that
//! function's statements.
//!
//! - [`driver`]: [`run_driver`] runs the driver and parses its report.
//! - [`convert`](mod@convert): [`cross_check`] compares Alembic's view of
//!   the graph with ours; [`convert()`] turns both into native revisions
//!   ([`Converted`]), with a failing `-- TODO` body where Alembic could not
//!   produce offline SQL.
//! - [`output`]: [`check_out_dir`], [`write()`] and [`verify`] write the
//!   native project (never overwriting a file) and check that it reads back
//!   as the same graph.

pub mod convert;
pub mod driver;
pub mod output;
pub mod template;

pub use convert::{convert, cross_check, todo_sql, Converted, Unconverted};
pub use driver::{run_driver, DriverReport, DriverRevision, DRIVER_SOURCE};
pub use output::{check_out_dir, verify, write, Verified};

use crate::alembic_run::absolute;
use crate::script::LoadError;
use std::path::PathBuf;
use thiserror::Error;

/// Environment variable naming the Python interpreter (after `--python`;
/// the choice is `crate::alembic_run::choose_python`).
pub const PYTHON_ENV: &str = "MP_ALEMBIC_PYTHON";

/// The only dialect supported: mergepoint applies SQL to PostgreSQL.
pub const DIALECTS: &[&str] = &["postgresql"];

/// What can stop an import before anything is written.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The interpreter could not be started.
    #[error("cannot run the Python interpreter '{python}': {message}")]
    NoPython { python: String, message: String },
    /// Python runs but cannot import Alembic (or SQLAlchemy).
    #[error("the Python interpreter '{python}' cannot import Alembic: {message}")]
    NoAlembic { python: String, message: String },
    /// Alembic itself could not load the project.
    #[error("{message}")]
    AlembicLoad { message: String },
    /// The driver crashed or printed something that is not its report.
    #[error("the Alembic driver run by '{python}' failed ({status}): {message}")]
    Driver {
        python: String,
        status: String,
        message: String,
    },
    /// Alembic and mergepoint read the directory differently.
    #[error("Alembic and mergepoint read this project differently:\n  {}", .problems.join("\n  "))]
    Mismatch { problems: Vec<String> },
    /// The output directory is not a place we may write to.
    #[error("{}: {message}", .dir.display())]
    OutDir { dir: PathBuf, message: String },
    /// Writing or reading the native project failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The written project does not read back as the same graph.
    #[error("the written project does not match the Alembic project:\n  {}", .problems.join("\n  "))]
    Verify { problems: Vec<String> },
}
