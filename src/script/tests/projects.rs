//! Projects: locating them, loading every file, `alembic.ini` and
//! `mergepoint.yaml`, writing new revisions.

use super::*;

#[test]
fn native_project_loads_in_sorted_order_and_collects_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "mergepoint.yaml", "# comment\nlock_timeout_secs: 5\n");
    let revs = root.join("revisions");
    write(&revs, "b_second.yaml", &native_file("bbb", &["aaa"]));
    write(&revs, "a_first.yaml", &native_file("aaa", &[]));
    write(&revs, "c_third.yml", &native_file("ccc", &["bbb"]));
    write(&revs, "B_upper.yaml", &native_file("BBB", &["aaa"]));
    write(&revs, "d_broken.yaml", "id: [\n");
    write(&revs, ".hidden.yaml", &native_file("hid", &[]));
    write(&revs, "README.md", "not a revision");
    write(&revs, "sub/e.yaml", &native_file("sub", &[]));

    let project = Project::locate(Some(root)).unwrap();
    assert_eq!(project.format, Format::Native);
    assert_eq!(project.revisions_dirs, vec![revs.clone()]);
    assert_eq!(project.config.lock_timeout_secs, Some(5));

    let loaded = load(&project);
    assert_eq!(ids(&loaded), vec!["BBB", "aaa", "bbb", "ccc"]);
    assert_eq!(loaded.bodies.len(), 4);
    assert_eq!(
        loaded.revisions[1].origin,
        revs.join("a_first.yaml").display().to_string()
    );
    match &loaded.bodies[1] {
        Body::Native(b) => assert_eq!(b.upgrade, "SELECT 'aaa';\n"),
        Body::Alembic => panic!("native body expected"),
    }
    assert_eq!(loaded.problems.len(), 1);
    assert_eq!(loaded.problems[0].path(), revs.join("d_broken.yaml"));
}

#[test]
fn native_revisions_dir_is_recognised_directly_and_via_parent() {
    let tmp = tempfile::tempdir().unwrap();
    let project = init_project(tmp.path()).unwrap();
    assert_eq!(project.format, Format::Native);
    let revs = tmp.path().join("revisions");
    assert!(revs.is_dir());
    // An empty revisions dir is found through its parent's mergepoint.yaml.
    let p2 = Project::locate(Some(&revs)).unwrap();
    assert_eq!(p2.root, tmp.path());
    let loaded = load(&p2);
    assert!(loaded.revisions.is_empty() && loaded.problems.is_empty());

    // A loose directory of YAML revisions is a project by itself.
    let loose = tmp.path().join("loose");
    write(&loose, "x.yaml", &native_file("x1", &[]));
    let p3 = Project::locate(Some(&loose)).unwrap();
    assert_eq!(
        (p3.format, p3.revisions_dirs.clone()),
        (Format::Native, vec![loose.clone()])
    );
    assert_eq!(ids(&load(&p3)), vec!["x1"]);
}

#[test]
fn init_refuses_an_existing_project_and_documents_every_key() {
    let tmp = tempfile::tempdir().unwrap();
    init_project(tmp.path()).unwrap();
    let e = init_project(tmp.path()).unwrap_err();
    assert!(matches!(e, LoadError::Exists { .. }), "{e:?}");
    assert!(e.to_string().contains("mergepoint.yaml"), "{e}");
    let text = fs::read_to_string(tmp.path().join("mergepoint.yaml")).unwrap();
    for key in [
        "format",
        "revisions",
        "database_url",
        "version_table",
        "version_table_schema",
        "lock_timeout_secs",
    ] {
        assert!(text.contains(&format!("# {key}:")), "{key} not documented");
    }
    // Every key in the template, uncommented, is a valid configuration.
    let uncommented: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| {
            l.split_once(": ").is_some_and(|(k, _)| {
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let c = crate::config::Config::parse(Path::new("m.yaml"), &uncommented).unwrap();
    assert_eq!(c.format, Some(Format::Native));
    assert_eq!(c.lock_timeout_secs, Some(60));
}

#[test]
fn write_native_revision_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let project = init_project(tmp.path()).unwrap();
    let new = NewRevision {
        id: "3f2a9c1d7e55".into(),
        parents: vec!["a1b2c3d4e5f6".into()],
        depends_on: vec![],
        branch_labels: vec!["shop".into()],
        message: "Add orders.status: 'text'".into(),
        created: chrono::DateTime::parse_from_rfc3339("2026-11-22T10:15:00Z")
            .unwrap()
            .to_utc(),
        transactional: false,
        upgrade: "ALTER TABLE orders ADD COLUMN status text;\n".into(),
        downgrade: "ALTER TABLE orders DROP COLUMN status;".into(),
    };
    let path = write_revision(&project, &new).unwrap();
    assert_eq!(
        path,
        tmp.path()
            .join("revisions/3f2a9c1d7e55_add_orders_status_text.yaml")
    );
    let text = fs::read_to_string(&path).unwrap();
    let (r, b) = parse_native(&path, &text).unwrap();
    assert_eq!(
        (r.id.as_str(), r.parents.clone(), r.branch_labels.clone()),
        (
            "3f2a9c1d7e55",
            new.parents.clone(),
            new.branch_labels.clone()
        )
    );
    assert_eq!(r.message, new.message);
    assert_eq!(b.created.as_deref(), Some("2026-11-22T10:15:00Z"));
    assert!(!b.transactional);
    assert_eq!(
        (b.upgrade.as_str(), b.downgrade.as_str()),
        (new.upgrade.as_str(), new.downgrade.as_str())
    );

    let e = write_revision(&project, &new).unwrap_err();
    assert!(matches!(e, LoadError::Exists { .. }), "{e:?}");
    assert_eq!(fs::read_to_string(&path).unwrap(), text);

    let bad = NewRevision {
        id: "../evil".into(),
        ..new
    };
    assert!(write_revision(&project, &bad).is_err());
}

#[test]
fn alembic_ini_project_default_versions_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "alembic.ini", INI);
    let versions = root.join("migrations/versions");
    write(&versions, "b2_x.py", &py_file("b2", "'a1'"));
    write(&versions, "a1_x.py", &py_file("a1", "None"));
    write(&versions, "__init__.py", "");
    write(&versions, ".#a1_x.py", "lock");
    write(&versions, "a1_x.py~", "backup");
    write(&versions, "a1_x.pyc", "bytes");
    write(&versions, "notes.txt", "hi");
    write(&versions, "__pycache__/a1_x.cpython-311.pyc", "bytes");
    write(&versions, "sub/c3_x.py", &py_file("c3", "'b2'"));
    write(&versions, "helpers.py", "def f():\n    return 1\n");

    let project = Project::locate(Some(root)).unwrap();
    assert_eq!(project.format, Format::Alembic);
    assert_eq!(project.revisions_dirs.len(), 1);
    assert_eq!(
        fs::canonicalize(&project.revisions_dirs[0]).unwrap(),
        fs::canonicalize(&versions).unwrap()
    );
    let loaded = load(&project);
    assert_eq!(ids(&loaded), vec!["a1", "b2"]);
    assert_eq!(loaded.revisions[1].parents, vec!["a1"]);
    assert_eq!(alembic_doc(&loaded.revisions[0].message), "rev a1");
    assert!(loaded.bodies.iter().all(|b| *b == Body::Alembic));
    assert_eq!(loaded.problems.len(), 1, "{:?}", loaded.problems);
    assert!(matches!(loaded.problems[0], LoadError::NotARevision { .. }));
    assert!(loaded.problems[0].to_string().contains("helpers.py"));

    // The script directory and the versions directory work as --dir too.
    let p2 = Project::locate(Some(&root.join("migrations"))).unwrap();
    assert_eq!(p2.format, Format::Alembic);
    assert_eq!(ids(&load(&p2)), vec!["a1", "b2"]);
    let p3 = Project::locate(Some(&versions)).unwrap();
    assert_eq!(
        (p3.format, p3.revisions_dirs.clone()),
        (Format::Alembic, vec![versions.clone()])
    );
    assert_eq!(ids(&load(&p3)), vec!["a1", "b2"]);
}

#[test]
fn alembic_recursive_version_locations() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "alembic.ini",
        &format!("{INI}recursive_version_locations = true\n"),
    );
    let v = root.join("migrations/versions");
    write(&v, "z_top.py", &py_file("z", "None"));
    write(&v, "b/b1.py", &py_file("b1", "None"));
    write(&v, "a/a1.py", &py_file("a1", "None"));
    write(&v, "a/deeper/d1.py", &py_file("d1", "None"));
    write(&v, "__pycache__/x.py", &py_file("cache", "None"));
    let project = Project::locate(Some(root)).unwrap();
    assert!(project.recursive);
    // os.walk top-down: a directory's own files, then its sorted subdirectories.
    assert_eq!(ids(&load(&project)), vec!["z", "a1", "d1", "b1"]);
}

#[test]
fn alembic_version_locations_in_configured_order() {
    for (locations, sep) in [
        ("%(here)s/v2 %(here)s/v1, %(here)s/v2", ""),
        (
            "%(here)s/v2:%(here)s/v1:%(here)s/v2",
            "path_separator = os\n",
        ),
        ("%(here)s/v2;%(here)s/v1", "version_path_separator = ;\n"),
        (
            "\n  %(here)s/v2\n  %(here)s/v1",
            "path_separator = newline\n",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            root,
            "alembic.ini",
            &format!("{INI}version_locations = {locations}\n{sep}"),
        );
        fs::create_dir(root.join("migrations")).unwrap();
        write(&root.join("v1"), "a.py", &py_file("v1a", "None"));
        write(&root.join("v1"), "b.py", &py_file("v1b", "'v1a'"));
        write(&root.join("v2"), "a.py", &py_file("v2a", "None"));
        let project = Project::locate(Some(root)).unwrap();
        assert_eq!(
            ids(&load(&project)),
            vec!["v2a", "v1a", "v1b"],
            "{locations} / {sep}"
        );
        // New revisions go into the first location.
        assert!(project.revisions_dirs[0].ends_with("v2"));
    }
}

#[test]
fn alembic_ini_errors_name_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ini = root.join("alembic.ini");
    fs::create_dir(root.join("x")).unwrap();
    for (text, line, needle) in [
        ("[loggers]\nkeys = root\n", None, "[alembic]"),
        ("[alembic]\nsqlalchemy.url = x\n", None, "script_location"),
        (
            "[alembic]\nscript_location = mypkg:migrations\n",
            Some(2),
            "resource",
        ),
        ("[alembic]\nscript_location = %(nope)s/x\n", Some(2), "nope"),
        (
            "[alembic]\nscript_location = x\nversion_locations = a b\npath_separator = pipe\n",
            Some(4),
            "path_separator",
        ),
        ("[alembic]\nthis line is bad\n", Some(2), "section"),
    ] {
        fs::write(&ini, text).unwrap();
        let e = Project::locate(Some(root)).unwrap_err();
        assert!(matches!(e, LoadError::Config { .. }), "{text}: {e:?}");
        assert_eq!(e.line(), line, "{text}: {e}");
        assert!(e.to_string().starts_with(&ini.display().to_string()), "{e}");
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[test]
fn mergepoint_yaml_can_force_the_format_and_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "alembic.ini", INI);
    write(
        &root.join("migrations/versions"),
        "a.py",
        &py_file("a1", "None"),
    );
    write(
        root,
        "mergepoint.yaml",
        "database_url: postgresql://x@y/z\n",
    );
    let p = Project::locate(Some(root)).unwrap();
    assert_eq!(p.format, Format::Alembic);
    assert_eq!(p.config.database_url.as_deref(), Some("postgresql://x@y/z"));
    assert_eq!(ids(&load(&p)), vec!["a1"]);

    write(
        root,
        "mergepoint.yaml",
        "format: native\nrevisions: db/revs\n",
    );
    write(&root.join("db/revs"), "x.yaml", &native_file("n1", &[]));
    let p = Project::locate(Some(root)).unwrap();
    assert_eq!(
        (p.format, p.revisions_dirs.clone()),
        (Format::Native, vec![root.join("db/revs")])
    );
    assert_eq!(ids(&load(&p)), vec!["n1"]);
}

#[test]
fn config_errors_name_file_and_line() {
    for (text, line, needle) in [
        ("format: native\nrevision: x\n", Some(2), "revision"),
        ("format: yaml\n", Some(1), "format"),
        ("lock_timeout_secs: soon\n", Some(1), "lock_timeout_secs"),
        ("format: [\n", None, ""),
    ] {
        let e: LoadError = crate::config::Config::parse(Path::new("proj/mergepoint.yaml"), text)
            .unwrap_err()
            .into();
        assert!(matches!(e, LoadError::Config { .. }), "{e:?}");
        if line.is_some() {
            assert_eq!(e.line(), line, "{e}");
        }
        assert!(e.to_string().starts_with("proj/mergepoint.yaml"), "{e}");
        assert!(e.to_string().contains(needle), "{e}");
    }
    assert_eq!(
        crate::config::Config::parse(Path::new("m.yaml"), "# nothing\n\n").unwrap(),
        crate::config::Config::default()
    );
}

#[test]
fn missing_native_revisions_dir_is_a_problem() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "mergepoint.yaml", "revisions: nowhere\n");
    let loaded = load(&Project::locate(Some(tmp.path())).unwrap());
    assert_eq!(loaded.problems.len(), 1);
    assert!(loaded.problems[0].to_string().contains("nowhere"));
    // The default directory of a native project: the fix is mkdir (init
    // refuses where mergepoint.yaml exists).
    write(tmp.path(), "mergepoint.yaml", "format: native\n");
    let loaded = load(&Project::locate(Some(tmp.path())).unwrap());
    let msg = loaded.problems[0].to_string();
    assert!(
        msg.contains("Path doesn't exist; create it (`mkdir "),
        "{msg}"
    );
    assert!(!msg.contains("mergepoint init"), "{msg}");
}

#[test]
fn nothing_recognisable_is_no_project() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "notes.txt", "hi");
    write(tmp.path(), "compose.yaml", "services: {}\n");
    let e = Project::locate(Some(tmp.path())).unwrap_err();
    assert!(matches!(e, LoadError::NoProject { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("mergepoint.yaml") && msg.contains("alembic.ini") && msg.contains("versions/"),
        "{msg}"
    );
    assert_eq!(crate::cli::CliError::from(e).exit_code(), 2);
    let e = Project::locate(Some(&tmp.path().join("missing"))).unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
}

#[test]
fn write_alembic_revision_and_load_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "alembic.ini", INI);
    write(
        &root.join("migrations/versions"),
        "a1_base.py",
        &py_file("a1", "None"),
    );
    write(
        &root.join("migrations/versions"),
        "b2_x.py",
        &py_file("b2", "'a1'"),
    );
    write(
        &root.join("migrations/versions"),
        "c3_x.py",
        &py_file("c3", "'a1'"),
    );
    let project = Project::locate(Some(root)).unwrap();
    let new = NewRevision {
        id: "dddddddddddd".into(),
        parents: vec!["b2".into(), "c3".into()],
        depends_on: vec![],
        branch_labels: vec![],
        message: "Merge heads".into(),
        created: chrono::Utc::now(),
        transactional: true,
        upgrade: String::new(),
        downgrade: String::new(),
    };
    let path = write_revision(&project, &new).unwrap();
    assert!(path.ends_with("migrations/versions/dddddddddddd_merge_heads.py"));
    let loaded = load(&project);
    assert!(loaded.problems.is_empty());
    let r = loaded
        .revisions
        .iter()
        .find(|r| r.id == "dddddddddddd")
        .unwrap();
    assert_eq!(r.parents, vec!["b2", "c3"]);
    assert_eq!(alembic_doc(&r.message), "Merge heads");
}

#[test]
fn pyproject_tool_alembic_is_read_and_alembic_ini_wins_key_by_key() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "pyproject.toml",
        "[project]\nname = \"x\"\n\n[tool.alembic]\nscript_location = \"%(here)s/migrations\"\nfile_template = \"%%(slug)s_%%(rev)s\"\ntruncate_slug_length = 8\n",
    );
    write(
        &root.join("migrations/versions"),
        "a.py",
        &py_file("a1", "None"),
    );
    write(&root.join("other/versions"), "b.py", &py_file("b1", "None"));
    let p = Project::locate(Some(root)).unwrap();
    assert_eq!(p.format, Format::Alembic);
    assert_eq!(ids(&load(&p)), vec!["a1"]);
    assert_eq!(p.file_template.as_deref(), Some("%(slug)s_%(rev)s"));
    assert_eq!(p.truncate_slug_length, Some(8));

    // alembic.ini's own keys come first; the rest still from the TOML.
    write(
        root,
        "alembic.ini",
        "[alembic]\nscript_location = %(here)s/other\nsqlalchemy.url = driver://\n",
    );
    let p = Project::locate(Some(root)).unwrap();
    assert_eq!(ids(&load(&p)), vec!["b1"]);
    assert_eq!(p.file_template.as_deref(), Some("%(slug)s_%(rev)s"));
    // And a mergepoint.yaml beside them changes nothing of that.
    write(root, "mergepoint.yaml", "format: alembic\n");
    let p = Project::locate(Some(root)).unwrap();
    assert_eq!(ids(&load(&p)), vec!["b1"]);
}

#[test]
fn a_bad_file_template_names_the_file_that_set_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "pyproject.toml",
        "[tool.alembic]\nscript_location = \"%(here)s/migrations\"\nfile_template = \"%%(nope)s\"\n",
    );
    write(
        root,
        "alembic.ini",
        "[alembic]\nsqlalchemy.url = driver://\n",
    );
    fs::create_dir_all(root.join("migrations/versions")).unwrap();
    let project = Project::locate(Some(root)).unwrap();
    let new = NewRevision {
        id: "abcdef012345".into(),
        parents: vec![],
        depends_on: vec![],
        branch_labels: vec![],
        message: "x".into(),
        created: chrono::Utc::now(),
        transactional: true,
        upgrade: String::new(),
        downgrade: String::new(),
    };
    let e = write_revision(&project, &new).unwrap_err().to_string();
    assert!(e.contains("pyproject.toml: file_template"), "{e}");
}

#[test]
fn mergepoint_yaml_in_a_flask_app_root_keeps_its_migrations() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(&root.join("migrations"), "alembic.ini", "[alembic]\n");
    write(&root.join("migrations"), "env.py", "");
    write(
        &root.join("migrations/versions"),
        "a.py",
        &py_file("a1", "None"),
    );
    for yaml in ["# comment\n", "format: alembic\n"] {
        write(root, "mergepoint.yaml", yaml);
        let p = Project::locate(Some(root)).unwrap();
        assert_eq!(p.format, Format::Alembic, "{yaml}");
        assert_eq!(ids(&load(&p)), vec!["a1"]);
    }
    // `mergepoint init` there makes no native revisions/.
    fs::remove_file(root.join("mergepoint.yaml")).unwrap();
    let p = init_project(root).unwrap();
    assert_eq!(p.format, Format::Alembic);
    assert!(!root.join("revisions").exists());
    // A native project beside the old migrations/ stays native.
    write(root, "mergepoint.yaml", "format: native\n");
    assert_eq!(Project::locate(Some(root)).unwrap().format, Format::Native);
    write(root, "mergepoint.yaml", "# comment\n");
    fs::create_dir_all(root.join("revisions")).unwrap();
    assert_eq!(Project::locate(Some(root)).unwrap().format, Format::Native);
}

#[test]
fn alembic_layout_names_the_settings_files_and_the_script_dir() {
    let canon = |p: &Path| fs::canonicalize(p).unwrap();
    let layout = |dir: &Path| {
        let l = Project::locate(Some(dir)).unwrap().alembic.unwrap();
        (
            l.ini.as_deref().map(canon),
            l.pyproject.as_deref().map(canon),
            canon(&l.script_dir),
        )
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = &canon(tmp.path());

    // pyproject.toml alone, then with an alembic.ini beside it.
    write(
        root,
        "pyproject.toml",
        "[tool.alembic]\nscript_location = \"%(here)s/alembic\"\n",
    );
    write(
        &root.join("alembic/versions"),
        "a.py",
        &py_file("a1", "None"),
    );
    let toml = Some(root.join("pyproject.toml"));
    assert_eq!(layout(root), (None, toml.clone(), root.join("alembic")));
    write(
        root,
        "alembic.ini",
        "[alembic]\nsqlalchemy.url = driver://\n",
    );
    let ini = Some(root.join("alembic.ini"));
    assert_eq!(layout(root), (ini.clone(), toml, root.join("alembic")));
    // From the versions directory, the same project.
    assert_eq!(
        layout(&root.join("alembic/versions")).2,
        root.join("alembic")
    );

    // A package resource.
    fs::remove_file(root.join("pyproject.toml")).unwrap();
    write(
        root,
        "alembic.ini",
        "[alembic]\nscript_location = pkg:mig\nprepend_sys_path = .\n",
    );
    write(
        &root.join("pkg/mig/versions"),
        "a.py",
        &py_file("a1", "None"),
    );
    assert_eq!(layout(root), (ini, None, root.join("pkg/mig")));

    // Flask-Migrate, from the application root.
    let app = &root.join("app");
    write(&app.join("migrations"), "alembic.ini", "[alembic]\n");
    write(
        &app.join("migrations/versions"),
        "a.py",
        &py_file("a1", "None"),
    );
    assert_eq!(
        layout(app),
        (
            Some(app.join("migrations/alembic.ini")),
            None,
            app.join("migrations")
        )
    );

    // A bare script directory; and native projects have none.
    let bare = &root.join("bare");
    write(&bare.join("versions"), "a.py", &py_file("a1", "None"));
    assert_eq!(layout(bare), (None, None, bare.clone()));
    let native = root.join("native");
    write(&native, "mergepoint.yaml", "format: native\n");
    assert_eq!(Project::locate(Some(&native)).unwrap().alembic, None);
}

#[test]
fn init_next_to_alembic_ini_keeps_the_alembic_layout() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "alembic.ini", INI);
    write(
        &tmp.path().join("migrations/versions"),
        "a.py",
        &py_file("a1", "None"),
    );
    let p = init_project(tmp.path()).unwrap();
    assert_eq!(p.format, Format::Alembic);
    assert!(!tmp.path().join("revisions").exists());
    assert_eq!(ids(&load(&p)), vec!["a1"]);
}

#[test]
fn alembic_subdirectories_find_their_ini_and_all_version_locations() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "alembic.ini",
        &format!("{INI}version_locations = %(here)s/migrations/versions %(here)s/extra\n"),
    );
    write(
        &root.join("migrations/versions"),
        "a.py",
        &py_file("a1", "None"),
    );
    write(&root.join("extra"), "b.py", &py_file("b1", "'a1'"));
    for dir in [root.join("migrations"), root.join("migrations/versions")] {
        let p = Project::locate(Some(&dir)).unwrap();
        assert_eq!(p.format, Format::Alembic);
        assert_eq!(ids(&load(&p)), vec!["a1", "b1"], "{}", dir.display());
    }
}

#[test]
fn alembic_ini_file_template_and_slug_length_name_new_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "alembic.ini",
        &format!("{INI}file_template = %%(year)d_%%(month).2d_%%(day).2d-%%(rev)s_%%(slug)s\ntruncate_slug_length = 10\n"),
    );
    fs::create_dir_all(root.join("migrations/versions")).unwrap();
    let project = Project::locate(Some(root)).unwrap();
    let new = NewRevision {
        id: "abcdef012345".into(),
        parents: vec![],
        depends_on: vec![],
        branch_labels: vec![],
        message: "add the orders table".into(),
        created: chrono::DateTime::parse_from_rfc3339("2026-03-04T05:06:07Z")
            .unwrap()
            .to_utc(),
        transactional: true,
        upgrade: String::new(),
        downgrade: String::new(),
    };
    let path = write_revision(&project, &new).unwrap();
    assert_eq!(
        path.file_name().unwrap(),
        "2026_03_04-abcdef012345_add_the_.py"
    );
    assert_eq!(ids(&load(&project)), vec!["abcdef012345"]);
}

proptest! {
    /// Malformed input is an error, never a panic.
    #[test]
    fn native_and_config_parsers_are_total(lines in prop::collection::vec(prop_oneof![
        "[ -~]{0,20}",
        prop::sample::select(vec!["id: a", "parents: [", "parents: []", "- x", "  - y", "upgrade: |", "  SELECT", "message: \"", "? k", ": v", "&a [1]", "*a", "!!binary x", "---", "...", "{", "}", "[]", "format: native", "lock_timeout_secs: -1"]).prop_map(str::to_string),
    ], 0..12)) {
        let text = lines.join("\n");
        let _ = parse_native(&p("x.yaml"), &text);
        let _ = crate::config::Config::parse(Path::new("m.yaml"), &text);
    }
}
