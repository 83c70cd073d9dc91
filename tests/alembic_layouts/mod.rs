//! The Alembic project layouts people have (issue 17, item 6), each checked
//! against real Alembic (from scripts/alembic-env, `MP_ALEMBIC_PYTHON`) on
//! the same files: `heads` and `history` must print exactly what Alembic
//! prints, or mergepoint must refuse with a message that names the file and
//! says what to do (exit 2).
//!
//! - Flask-Migrate: `migrations/alembic.ini` without `script_location`;
//!   Alembic is run as Flask-Migrate runs it (`Config(migrations/alembic.ini)`
//!   with `script_location` set to `migrations`), mergepoint from the
//!   application root and from inside `migrations/`.
//! - `[tool.alembic]` in `pyproject.toml` (Alembic 1.16+), with and without
//!   an `alembic.ini` beside it.
//! - `script_location = package:dir` (a package resource).
//! - several `version_locations`, split as `path_separator` says.
//!
//! The revisions are tests/fixtures/alembic_shop's eight (two heads, a
//! merge, a branch label), laid out anew for each case. (A module of the
//! cli_alembic test binary: one binary less to link.)

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli_util::Run;
use crate::without_id_and_date;

/// The fixture's revision files, by name.
fn shop_revisions() -> Vec<(String, String)> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alembic_shop/proj/versions");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Writes the shop's revisions into `dir`; with `split`, those whose file
/// name sorts before it go to `dir` and the rest to `split.1`.
fn lay_out(dir: &Path, split: Option<(&str, &Path)>) {
    for (name, text) in shop_revisions() {
        let to = match split {
            Some((cut, other)) if name.as_str() >= cut => other.join(&name),
            _ => dir.join(&name),
        };
        write(&to, &text);
    }
}

const ENV_PY: &str =
    "# env.py: never run by mergepoint's graph commands, nor by alembic heads/history\n";

/// The `[alembic]` section of Flask-Migrate's `alembic.ini` template
/// (no script_location: `flask db` sets it), with its logging sections.
const FLASK_INI: &str = "# A generic, single database configuration.

[alembic]
# template used to generate migration files
# file_template = %%(rev)s_%%(slug)s

# set to 'true' to run the environment during
# the 'revision' command, regardless of autogenerate
# revision_environment = false


# Logging configuration
[loggers]
keys = root,sqlalchemy,alembic,flask_migrate

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console
qualname =

[logger_sqlalchemy]
level = WARN
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[logger_flask_migrate]
level = INFO
handlers =
qualname = flask_migrate

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
";

/// The Python interpreter with real Alembic.
fn python() -> PathBuf {
    crate::alembic_python()
}

/// Runs Python code in `cwd`; its stdout.
fn run_python(cwd: &Path, args: &[&str]) -> String {
    let out = Command::new(python())
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python {args:?} in {} failed: {}",
        cwd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `alembic CMD` in `cwd` (it finds alembic.ini / pyproject.toml there).
fn alembic(cwd: &Path, cmd: &str) -> String {
    run_python(cwd, &["-m", "alembic", cmd])
}

/// `flask db CMD` as Flask-Migrate runs it from the application root `cwd`
/// (`Migrate.get_config`: the ini in the directory, `script_location` set
/// to the directory), without Flask itself.
fn flask_db(cwd: &Path, cmd: &str) -> String {
    let code = format!(
        "from alembic.config import Config\n\
         from alembic import command\n\
         config = Config('migrations/alembic.ini')\n\
         config.set_main_option('script_location', 'migrations')\n\
         command.{cmd}(config)\n"
    );
    run_python(cwd, &["-c", &code])
}

fn mergepoint(cwd: &Path, args: &[&str]) -> Run {
    let out = assert_cmd::Command::cargo_bin("mergepoint")
        .unwrap()
        .args(args)
        .current_dir(cwd)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// mergepoint's `heads` and `history` in `cwd` (with `dir` as --dir, if
/// any) print `theirs(cmd)`.
fn same_as(cwd: &Path, dir: Option<&str>, theirs: &dyn Fn(&str) -> String) {
    for cmd in ["heads", "history"] {
        let mut args = Vec::new();
        if let Some(d) = dir {
            args.extend(["--dir", d]);
        }
        args.push(cmd);
        let ours = mergepoint(cwd, &args);
        assert_eq!(
            ours.code,
            0,
            "{args:?} in {}: {}",
            cwd.display(),
            ours.stderr
        );
        let want = theirs(cmd);
        assert!(want.contains("(head)"), "alembic printed no heads: {want}");
        assert_eq!(
            ours.stdout,
            want,
            "mergepoint {args:?} in {} differs from Alembic",
            cwd.display()
        );
    }
}

fn assert_refused(run: &Run, file: &str, says: &[&str]) {
    assert_eq!(run.code, 2, "{:?}: {}{}", run.args, run.stdout, run.stderr);
    assert!(
        run.stderr.contains(file),
        "{:?} does not name {file}: {}",
        run.args,
        run.stderr
    );
    for s in says {
        assert!(
            run.stderr.contains(s),
            "{:?} does not say '{s}': {}",
            run.args,
            run.stderr
        );
    }
}

#[test]
fn flask_migrate_from_the_app_root_and_from_migrations() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path();
    write(
        &app.join("app.py"),
        "from flask import Flask\napp = Flask(__name__)\n",
    );
    let migrations = app.join("migrations");
    write(&migrations.join("alembic.ini"), FLASK_INI);
    write(&migrations.join("env.py"), ENV_PY);
    lay_out(&migrations.join("versions"), None);

    let theirs = |cmd: &str| flask_db(app, cmd);
    // Where `flask db` runs, with nothing to say where the project is.
    same_as(app, None, &theirs);
    // The migrations directory, its versions directory, and the app root
    // given as --dir from elsewhere.
    same_as(&migrations, None, &theirs);
    same_as(app, Some("migrations/versions"), &theirs);
    same_as(
        tmp.path().parent().unwrap(),
        Some(app.to_str().unwrap()),
        &theirs,
    );

    // A merge from the app root goes into migrations/versions, and Flask-Migrate
    // (Alembic) sees one head.
    let run = mergepoint(
        app,
        &["merge", "heads", "-m", "merge shop", "--rev-id", "9999"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(migrations.join("versions/9999_merge_shop.py").is_file());
    assert_eq!(flask_db(app, "heads"), "9999 (reports) (head)\n");
    same_as(app, None, &theirs);
}

#[test]
fn flask_migrate_without_env_py_or_versions_is_refused_with_what_to_add() {
    let tmp = tempfile::tempdir().unwrap();
    let migrations = tmp.path().join("migrations");
    write(&migrations.join("alembic.ini"), FLASK_INI);
    let run = mergepoint(tmp.path(), &["heads"]);
    assert_refused(
        &run,
        "migrations/alembic.ini",
        &["has no script_location", "script_location = "],
    );
}

#[test]
fn pyproject_tool_alembic_with_and_without_alembic_ini() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // `alembic init --template pyproject alembic`: the settings in
    // pyproject.toml, the database URL and logging in alembic.ini.
    write(
        &root.join("pyproject.toml"),
        "[project]\nname = \"shop\"\nversion = \"1.0\"\ndependencies = [\"alembic\"]\n\n\
         [tool.alembic]\nscript_location = \"%(here)s/alembic\"\nprepend_sys_path = [\".\"]\n",
    );
    write(&root.join("alembic/env.py"), ENV_PY);
    lay_out(&root.join("alembic/versions"), None);
    // Without alembic.ini first (Alembic needs only the TOML).
    same_as(root, None, &|cmd| alembic(root, cmd));
    write(
        &root.join("alembic.ini"),
        "[alembic]\nsqlalchemy.url = driver://user:pass@localhost/dbname\n\n[loggers]\nkeys = root\n",
    );
    same_as(root, None, &|cmd| alembic(root, cmd));
    // From the script and versions directories too.
    same_as(&root.join("alembic"), None, &|cmd| alembic(root, cmd));
    same_as(&root.join("alembic/versions"), None, &|cmd| {
        alembic(root, cmd)
    });

    // Three version locations as a TOML list, in the order given (which
    // decides ties, see three_locations).
    std::fs::remove_dir_all(root.join("alembic/versions")).unwrap();
    three_locations(root);
    write(
        &root.join("pyproject.toml"),
        "[tool.alembic]\nscript_location = \"%(here)s/alembic\"\n\
         version_locations = [\"%(here)s/b\", \"%(here)s/alembic/versions\", \"%(here)s/a\"]\n",
    );
    same_as(root, None, &|cmd| alembic(root, cmd));
}

/// The shop's revisions over three directories, `alembic/versions` (aaaa,
/// bbbb), `b` (cccc, dddd, eeee, hhhh) and `a` (ffff, gggg), to be listed
/// as b, alembic/versions, a: out of alphabetical order, and an order
/// that changes `history` (the heads ffff and hhhh swap places when the
/// list is reversed), so the configured order is what is compared.
fn three_locations(root: &Path) {
    lay_out(
        &root.join("alembic/versions"),
        Some(("cccc", &root.join("b"))),
    );
    std::fs::create_dir_all(root.join("a")).unwrap();
    for name in ["ffff_add_orders_status.py", "gggg_create_reports.py"] {
        std::fs::rename(root.join("b").join(name), root.join("a").join(name)).unwrap();
    }
}

#[test]
fn pyproject_mistakes_name_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    lay_out(&root.join("alembic/versions"), None);
    for (toml, says) in [
        ("[tool.alembic]\nprepend_sys_path = [\".\"]\n", &["pyproject.toml: [tool.alembic] has no script_location", "script_location = \"%(here)s/alembic\""][..]),
        ("[tool.alembic]\nscript_location = \"%(here)s/alembic\"\nrecursive_version_locations = \"yes\"\n", &["pyproject.toml:3:", "write true or false"][..]),
        ("[tool.alembic]\nscript_location = \"%(here)s/alembic\"\nversion_locations = \"%(here)s/alembic/versions\"\n", &["pyproject.toml:3:", "expected a list of strings"][..]),
        ("[tool.alembic]\nscript_location = \"%(here)s/nowhere\"\n", &["pyproject.toml:2:", "Path doesn't exist", "script_location = \"%(here)s/alembic\""][..]),
        ("[tool.alembic]\nscript_location = \n", &["pyproject.toml:2:", "not valid TOML"][..]),
    ] {
        write(&root.join("pyproject.toml"), toml);
        assert_refused(&mergepoint(root, &["heads"]), "pyproject.toml", says);
    }
}

#[test]
fn package_resource_script_location() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        &root.join("alembic.ini"),
        "[alembic]\nscript_location = shopdb.schema:migrations\nprepend_sys_path = .\npath_separator = os\n",
    );
    write(&root.join("shopdb/__init__.py"), "");
    write(&root.join("shopdb/schema/__init__.py"), "");
    write(&root.join("shopdb/schema/migrations/env.py"), ENV_PY);
    lay_out(&root.join("shopdb/schema/migrations/versions"), None);
    same_as(root, None, &|cmd| alembic(root, cmd));
    // A version location as a package resource too (the separator is not
    // ':', which would split it).
    std::fs::rename(
        root.join("shopdb/schema/migrations/versions"),
        root.join("shopdb/schema/revs"),
    )
    .unwrap();
    write(
        &root.join("alembic.ini"),
        "[alembic]\nscript_location = shopdb.schema:migrations\nprepend_sys_path = .\npath_separator = space\nversion_locations = shopdb.schema:revs\n",
    );
    same_as(root, None, &|cmd| alembic(root, cmd));

    // A package mergepoint cannot find without importing Python (not under
    // prepend_sys_path) is refused, with what to write instead.
    write(
        &root.join("alembic.ini"),
        "[alembic]\nscript_location = shopdb.schema:migrations\npath_separator = os\n",
    );
    let run = mergepoint(root, &["heads"]);
    assert_refused(
        &run,
        "alembic.ini:2:",
        &[
            "package 'shopdb.schema' was not found",
            "%(here)s/shopdb/schema/migrations",
            "prepend_sys_path",
        ],
    );
}

#[test]
fn several_version_locations_split_as_path_separator_says() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(&root.join("alembic/env.py"), ENV_PY);
    three_locations(root);
    let list = |sep: &str| ["%(here)s/b", "%(here)s/alembic/versions", "%(here)s/a"].join(sep);
    for (separator, locations) in [
        ("path_separator = os\n", list(":")),
        ("path_separator = ;\n", list(";")),
        ("path_separator = space\n", list(" ")),
        (
            "path_separator = newline\n",
            format!("\n    {}", list("\n    ")),
        ),
        ("version_path_separator = :\n", list(":")),
        // No separator: Alembic's legacy split on commas and spaces (with a
        // deprecation warning).
        ("", list(", ")),
    ] {
        write(
            &root.join("alembic.ini"),
            &format!("[alembic]\nscript_location = %(here)s/alembic\n{separator}version_locations = {locations}\n"),
        );
        same_as(root, None, &|cmd| alembic(root, cmd));
    }

    write(
        &root.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/alembic\npath_separator = os\nversion_locations = %(here)s/b:%(here)s/missing\n",
    );
    assert_refused(
        &mergepoint(root, &["heads"]),
        "alembic.ini:4:",
        &[
            "version_locations: Path doesn't exist",
            "missing",
            "create the directory or remove it",
        ],
    );
}

/// The fixture's `script.py.mako` with a header of the project's own.
fn own_template() -> String {
    let mako = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/alembic_shop/proj/script.py.mako"),
    )
    .unwrap();
    format!("# SPDX-License-Identifier: Apache-2.0\n{mako}")
}

/// `revision` renders the project's own script.py.mako, found through the
/// layout (pyproject.toml's script_location; Flask-Migrate's migrations/),
/// into the same file Alembic (or `flask db revision`) writes.
#[test]
fn revision_uses_the_projects_template_in_pyproject_and_flask_layouts() {
    // (layout, where mergepoint and Alembic run, the versions directory)
    for layout in ["pyproject", "flask"] {
        let make = || {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path();
            let script_dir = if layout == "flask" {
                write(&root.join("migrations/alembic.ini"), FLASK_INI);
                root.join("migrations")
            } else {
                write(
                    &root.join("pyproject.toml"),
                    "[tool.alembic]\nscript_location = \"%(here)s/alembic\"\n",
                );
                root.join("alembic")
            };
            write(&script_dir.join("env.py"), ENV_PY);
            write(&script_dir.join("script.py.mako"), &own_template());
            lay_out(&script_dir.join("versions"), None);
            (tmp, script_dir)
        };
        let (ours, ours_dir) = make();
        let run = mergepoint(
            ours.path(),
            &[
                "revision",
                "-m",
                "add orders.note",
                "--head",
                "ffff",
                "--rev-id",
                "8888",
            ],
        );
        assert_eq!(run.code, 0, "{layout}: {}", run.stderr);
        assert!(!run.stderr.contains("warning"), "{layout}: {}", run.stderr);
        let mine =
            std::fs::read_to_string(ours_dir.join("versions/8888_add_orders_note.py")).unwrap();
        assert!(
            mine.starts_with("# SPDX-License-Identifier: Apache-2.0\n"),
            "{layout}: {mine}"
        );

        let (theirs, theirs_dir) = make();
        if layout == "flask" {
            let code = "from alembic.config import Config\n\
                        from alembic import command\n\
                        config = Config('migrations/alembic.ini')\n\
                        config.set_main_option('script_location', 'migrations')\n\
                        command.revision(config, message='add orders.note', head='ffff', rev_id='7777')\n";
            run_python(theirs.path(), &["-c", code]);
        } else {
            run_python(
                theirs.path(),
                &[
                    "-m",
                    "alembic",
                    "revision",
                    "-m",
                    "add orders.note",
                    "--head",
                    "ffff",
                    "--rev-id",
                    "7777",
                ],
            );
        }
        let alembics =
            std::fs::read_to_string(theirs_dir.join("versions/7777_add_orders_note.py")).unwrap();
        assert_eq!(
            without_id_and_date(&mine, "8888"),
            without_id_and_date(&alembics, "7777"),
            "{layout}"
        );
    }
}
