//! `mergepoint import-alembic`: turn an Alembic project into a native one.

use crate::alembic_import::{self as imp, Converted, ImportError, Unconverted};
use crate::cli::{CliError, CliResult, Ctx};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

pub const AFTER_HELP: &str = "\
Reads the Alembic project given by --dir (a directory with alembic.ini, its
script directory, or a bare versions/ directory) and writes a native project
to --out: OUT/mergepoint.yaml and one OUT/revisions/<id>_<slug>.yaml per
revision, with the same ids, parents, depends_on, branch labels and
messages. Each revision's SQL is what Alembic's own offline mode (`alembic
upgrade --sql`) emits for its upgrade() and downgrade(), run with the chosen
Python; that Python needs Alembic and the project's own imports.

A revision that uses autocommit_block() becomes `transactional: false`.

A function Alembic cannot run offline (typically one that reads data through
op.get_bind()) is not dropped: its revision is still written, with a TODO
comment giving the reason and a statement that raises an error, so that
`mergepoint upgrade` stops there instead of recording it as applied without
its SQL. Such revisions are listed on stderr and the exit status is 1 unless
--allow-incomplete is given. Write their SQL by hand, then remove the TODO.

Nothing existing is overwritten: OUT must be new, or have no revision files
(an empty project made by `mergepoint init` is fine). After writing, the new
project is read back and must give the same graph, heads and history.

Exit status: 0 everything converted (or --allow-incomplete); 1 some
revisions need hand-written SQL; 2 bad input, no Python or no Alembic.

Examples:
  mergepoint --dir . import-alembic --out ../db-native
  mergepoint --dir alembic import-alembic --out native --python .venv/bin/python
  MP_ALEMBIC_PYTHON=.venv/bin/python mergepoint import-alembic --out native --json
  mergepoint import-alembic --out native --allow-incomplete";

#[derive(Debug, Args)]
pub struct ImportAlembicArgs {
    /// Directory to write the native project to (created if missing; must
    /// not hold revision files yet).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Python interpreter with Alembic installed [default: $MP_ALEMBIC_PYTHON,
    /// else $VIRTUAL_ENV's, else .venv/ or venv/ beside alembic.ini, else
    /// python3].
    #[arg(long, value_name = "PY")]
    pub python: Option<String>,
    /// SQL dialect Alembic renders for (mergepoint runs PostgreSQL only).
    #[arg(long, value_name = "NAME", default_value = "postgresql", value_parser = clap::builder::PossibleValuesParser::new(imp::DIALECTS))]
    pub dialect: String,
    /// Exit 0 even if some revisions could not be converted (they are
    /// still written with a TODO and listed on stderr).
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Print the report as a JSON object.
    #[arg(long)]
    pub json: bool,
}

/// One revision in the report.
#[derive(Debug, Serialize)]
pub struct ImportedView {
    pub id: String,
    /// The Alembic file it came from.
    pub source: String,
    /// The native file written.
    pub file: String,
    pub transactional: bool,
    /// `converted` or `todo`.
    pub status: &'static str,
    /// Functions left as TODO, with the reason.
    pub unconverted: Vec<Unconverted>,
    pub notes: Vec<String>,
}

/// The report `import-alembic` prints.
#[derive(Debug, Serialize)]
pub struct ImportReport {
    /// True when every revision was converted.
    pub ok: bool,
    pub out: String,
    pub alembic_version: String,
    pub sqlalchemy_version: String,
    pub revisions: Vec<ImportedView>,
    pub converted: usize,
    pub todo: usize,
    /// Heads of the written project (the same as the Alembic project's).
    pub heads: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn to_cli(err: ImportError, python: &str) -> CliError {
    let hint = match &err {
        ImportError::NoPython { .. } => Some(format!(
            "install Python 3 and Alembic (`pip install alembic`), then pass --python PATH or set {}; tried '{python}'",
            imp::PYTHON_ENV
        )),
        ImportError::NoAlembic { .. } => Some(format!(
            "install it for that interpreter: `{python} -m pip install alembic` (or point --python / {} at the virtualenv your project uses)",
            imp::PYTHON_ENV
        )),
        ImportError::AlembicLoad { .. } => Some(
            "use the Python of the project's virtualenv (--python), and check that `alembic history` works in this directory (prepend_sys_path in alembic.ini puts the project's modules on the path)"
                .to_string(),
        ),
        ImportError::Mismatch { .. } => Some(
            "use literal values for revision, down_revision, branch_labels and depends_on".to_string(),
        ),
        ImportError::Verify { .. } => {
            Some("this is a mergepoint bug; please report it with the files named".to_string())
        }
        _ => None,
    };
    let e = CliError::input(err.to_string());
    match hint {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

pub fn run(ctx: &mut Ctx, args: ImportAlembicArgs) -> CliResult {
    let ws = ctx.workspace()?;
    let python = crate::alembic_run::choose_python(args.python.as_deref(), &ws.project.root);
    if ws.project.format != crate::script::Format::Alembic {
        return Err(CliError::input(format!(
            "{}: this is a native mergepoint project, not an Alembic one",
            ws.project.root.display()
        ))
        .with_hint("pass --dir pointing at the directory with alembic.ini (or its versions/)"));
    }
    let fail = |e: ImportError| to_cli(e, &python);
    imp::check_out_dir(&args.out).map_err(fail)?;
    let report = imp::run_driver(&python, &ws.project, &args.dialect).map_err(fail)?;
    if let Some(note) = &report.env_note {
        eprintln!("note: {note}");
    }
    let problems = imp::cross_check(&ws.graph, &report);
    if !problems.is_empty() {
        return Err(fail(ImportError::Mismatch { problems }));
    }
    let converted = imp::convert(&ws.graph, &report, &ws.project.root);
    let paths = imp::write(&args.out, &converted).map_err(fail)?;
    let verified = imp::verify(&args.out, &ws.graph, &converted).map_err(fail)?;

    let views: Vec<ImportedView> = converted
        .iter()
        .zip(&paths)
        .map(|(c, p)| view(c, p))
        .collect();
    let todo: Vec<&Converted> = converted.iter().filter(|c| !c.is_complete()).collect();
    let out_report = ImportReport {
        ok: todo.is_empty(),
        out: args.out.display().to_string(),
        alembic_version: report.alembic_version.clone(),
        sqlalchemy_version: report.sqlalchemy_version.clone(),
        converted: converted.len() - todo.len(),
        todo: todo.len(),
        revisions: views,
        heads: verified.heads.clone(),
        note: verified.history_note.clone(),
    };
    if args.json {
        ctx.json(&out_report)?;
    } else {
        print_text(ctx, &out_report, &report.python_version)?;
    }
    if todo.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "{} of {} revisions could not be converted to SQL and were written with a TODO that fails when run:",
        todo.len(),
        converted.len()
    );
    for c in &todo {
        for u in &c.unconverted {
            message.push_str(&format!(
                "\n  {} {}() ({}): {}",
                c.revision.id, u.function, c.source, u.reason
            ));
        }
    }
    if args.allow_incomplete {
        use std::io::Write;
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "warning: {message}");
        let _ = writeln!(
            stderr,
            "hint: write their SQL by hand in {}, replacing the TODO",
            args.out.join("revisions").display()
        );
        return Ok(());
    }
    Err(CliError::check_failed(message)
        .with_hint(format!(
            "write their SQL by hand in {}, replacing the TODO",
            args.out.join("revisions").display()
        ))
        .with_hint("--allow-incomplete exits 0 in this case"))
}

fn view(c: &Converted, path: &std::path::Path) -> ImportedView {
    ImportedView {
        id: c.revision.id.clone(),
        source: c.source.clone(),
        file: path.display().to_string(),
        transactional: c.body.transactional,
        status: if c.is_complete() { "converted" } else { "todo" },
        unconverted: c.unconverted.clone(),
        notes: c.notes.clone(),
    }
}

fn print_text(ctx: &mut Ctx, r: &ImportReport, python_version: &str) -> CliResult {
    writeln!(
        ctx.out,
        "Imported {} revisions into {} (Alembic {}, SQLAlchemy {}, Python {}):",
        r.revisions.len(),
        r.out,
        r.alembic_version,
        r.sqlalchemy_version,
        python_version
    )?;
    for v in &r.revisions {
        let mark = if v.status == "converted" {
            "ok  "
        } else {
            "TODO"
        };
        let file = std::path::Path::new(&v.file);
        let shown = file.strip_prefix(&r.out).unwrap_or(file);
        writeln!(ctx.out, "  {mark} {} <- {}", shown.display(), v.source)?;
        for u in &v.unconverted {
            writeln!(ctx.out, "         {}(): {}", u.function, u.reason)?;
        }
        for n in &v.notes {
            writeln!(ctx.out, "         note: {n}")?;
        }
    }
    writeln!(
        ctx.out,
        "{} converted, {} need hand-written SQL; heads: {}",
        r.converted,
        r.todo,
        if r.heads.is_empty() {
            "(none)".to_string()
        } else {
            r.heads.join(", ")
        }
    )?;
    if let Some(n) = &r.note {
        writeln!(ctx.out, "note: {n}")?;
        writeln!(
            ctx.out,
            "Checked: the new project has the same revisions, graph and heads."
        )?;
    } else {
        writeln!(
            ctx.out,
            "Checked: the new project has the same revisions, graph, heads and history."
        )?;
    }
    Ok(())
}
