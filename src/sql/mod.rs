//! SQL text, without a database: splitting a script into statements the
//! way psql does, and finding the statements mergepoint must treat
//! specially (transaction control in a transactional revision), and the
//! checksum recorded for what was run. Pure
//! functions; used by the revision loader, the runner and the offline
//! renderer alike.

mod checksum;
mod control;
mod duration;
mod psql;
mod split;

pub use checksum::sha256_hex;
pub use control::{client_copy, transaction_control, ControlStatement};
pub use duration::check_duration;
pub use psql::{for_psql, PsqlCommand};
pub use split::{needs_terminator, split_statements, split_statements_with_lines};
