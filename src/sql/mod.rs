//! SQL text, without a database: splitting a script into statements the
//! way psql does, and finding the statements mergepoint must treat
//! specially. Pure functions; used by the revision loader, the runner and
//! the offline renderer alike.

mod split;

pub use split::{needs_terminator, split_statements};
mod control;
pub use control::{transaction_control, ControlStatement};
