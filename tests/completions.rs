//! The shell and human side of the CLI: completion scripts (the bash one loaded into a real bash
//! and asked to complete), the man page rendered by man-db, JSON on every read command, and the
//! exit statuses the README documents.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{Sandbox, TempDir, assert_success, require_program, stderr_of, stdout_of};

/// Our subcommands and the ones before them: a completion or man page missing one is stale.
const SUBCOMMANDS: &[&str] = &[
    "login",
    "logout",
    "get",
    "list",
    "ecr",
    "helper",
    "export",
    "status",
    "completions",
    "man",
];

fn run(sandbox: &Sandbox, args: &[&str]) -> Output {
    sandbox.run(args, None)
}

/// Sources the bash completion script into a clean bash, then completes `words` (the last is
/// the word being typed) the way bash's programmable completion calls the function.
fn bash_complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let program = format!(
        "source '{}' || exit 3\n\
         COMP_WORDS=({})\nCOMP_CWORD={cword}\nCOMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n\
         _reglogin reglogin '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words[cword],
        words[cword - 1],
    );
    let mut command = Command::new(require_program("bash"));
    command.env_clear().env("PATH", "/usr/bin:/bin").args([
        "--norc",
        "--noprofile",
        "-c",
        &program,
    ]);
    let output = common::sandbox::run_with_timeout(command, None, Duration::from_secs(30));
    assert_success(&output);
    stdout_of(&output).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completion_loads_and_completes_subcommands_and_flags() {
    let sandbox = Sandbox::new();
    let output = run(&sandbox, &["completions", "bash"]);
    assert_success(&output);
    let dir = TempDir::new();
    let script = dir.join("reglogin.bash");
    std::fs::write(&script, &output.stdout).unwrap();

    // Loading it registers the completion for `reglogin`.
    let mut command = Command::new(require_program("bash"));
    command.env_clear().env("PATH", "/usr/bin:/bin").args([
        "--norc",
        "--noprofile",
        "-c",
        &format!("source '{}' && complete -p reglogin", script.display()),
    ]);
    let registered = common::sandbox::run_with_timeout(command, None, Duration::from_secs(30));
    assert_success(&registered);
    assert!(
        stdout_of(&registered).contains("-F _reglogin reglogin"),
        "{}",
        stdout_of(&registered)
    );

    let all = bash_complete(&script, &["reglogin", ""]);
    for subcommand in SUBCOMMANDS {
        assert!(
            all.iter().any(|w| w == subcommand),
            "{subcommand} in {all:?}"
        );
    }
    assert_eq!(bash_complete(&script, &["reglogin", "sta"]), ["status"]);
    assert_eq!(bash_complete(&script, &["reglogin", "exp"]), ["export"]);
    assert_eq!(
        bash_complete(&script, &["reglogin", "export", "--kub"]),
        ["--kubernetes-secret"]
    );
    let formats = bash_complete(&script, &["reglogin", "status", "--format", ""]);
    assert_eq!(formats, ["table", "json"]);
    let shells = bash_complete(&script, &["reglogin", "completions", ""]);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(shells.iter().any(|w| w == shell), "{shell} in {shells:?}");
    }
}

/// zsh, fish and PowerShell are not installed here: their scripts are checked for the shape
/// each shell loads and for every subcommand, not run.
#[test]
fn other_shells_get_scripts_naming_every_subcommand() {
    let sandbox = Sandbox::new();
    for (shell, marker) in [
        ("zsh", "#compdef reglogin"),
        ("fish", "complete -c reglogin"),
        (
            "powershell",
            "Register-ArgumentCompleter -Native -CommandName 'reglogin'",
        ),
        ("elvish", "set edit:completion:arg-completer[reglogin]"),
    ] {
        let output = run(&sandbox, &["completions", shell]);
        assert_success(&output);
        let script = stdout_of(&output);
        assert!(script.contains(marker), "{shell}: {marker}");
        for subcommand in SUBCOMMANDS {
            assert!(script.contains(subcommand), "{shell}: {subcommand}");
        }
    }
    let output = run(&sandbox, &["completions", "tcsh"]);
    common::assert_failure(&output, "invalid value 'tcsh'");
}

fn render_man(page: &std::path::Path) -> String {
    let mut command = Command::new(require_program("man"));
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("MANWIDTH", "100")
        .env("LANG", "C")
        .args(["-P", "cat", "-l"])
        .arg(page);
    let output = common::sandbox::run_with_timeout(command, None, Duration::from_secs(30));
    assert_success(&output);
    assert!(
        stderr_of(&output).is_empty(),
        "man complained: {}",
        stderr_of(&output)
    );
    stdout_of(&output)
}

#[test]
fn man_pages_render_with_man_db() {
    let sandbox = Sandbox::new();
    let output = run(&sandbox, &["man"]);
    assert_success(&output);
    let dir = TempDir::new();
    let page = dir.join("reglogin.1");
    std::fs::write(&page, &output.stdout).unwrap();
    let text = render_man(&page);
    for section in [
        "NAME",
        "SYNOPSIS",
        "SUBCOMMANDS",
        "EXIT STATUS",
        "ENVIRONMENT",
    ] {
        assert!(
            text.lines().any(|line| line == section),
            "{section}: {text}"
        );
    }
    for subcommand in SUBCOMMANDS {
        assert!(
            text.contains(&format!("reglogin-{subcommand}(1)")),
            "{subcommand}: {text}"
        );
    }
    assert!(text.contains("REGLOGIN_HTTP_TIMEOUT"), "{text}");

    // One page per subcommand, each rendering.
    let pages = dir.join("pages");
    let output = run(&sandbox, &["man", "--out-dir", pages.to_str().unwrap()]);
    assert_success(&output);
    for subcommand in SUBCOMMANDS {
        assert!(
            pages.join(format!("reglogin-{subcommand}.1")).is_file(),
            "{subcommand}"
        );
    }
    let export = render_man(&pages.join("reglogin-export.1"));
    assert!(export.contains("--kubernetes-secret"), "{export}");
    assert!(export.contains("CONTAINS THE SECRETS"), "{export}");
    let top = render_man(&pages.join("reglogin.1"));
    assert!(top.lines().any(|line| line == "EXIT STATUS"), "{top}");
}

/// `get`, `list` and `status` can all answer in JSON.
#[test]
fn every_read_command_answers_in_json() {
    let sandbox = Sandbox::new();
    sandbox.write_config(r#"{"auths": {"127.0.0.1:9": {"auth": "YWxpY2U6d29uZGVybGFuZA=="}}}"#);
    let get = run(&sandbox, &["get", "127.0.0.1:9"]);
    assert_success(&get);
    let list = run(&sandbox, &["list", "--format", "json"]);
    assert_success(&list);
    let mut status_command = sandbox.cmd(&["status", "--format", "json"]);
    status_command.env("REGLOGIN_HTTP_TIMEOUT", "2");
    let status = common::sandbox::run_with_timeout(status_command, None, Duration::from_secs(60));
    for (name, output) in [("get", &get), ("list", &list), ("status", &status)] {
        let value: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|err| panic!("{name}: {err}: {}", stdout_of(output)));
        assert!(value.is_object() || value.is_array(), "{name}");
    }
}

/// What the README's exit-status table says: 0 for success (and `--help`, `--version`), 1 for
/// every failure, usage errors included (not clap's default 2).
#[test]
fn exit_statuses_are_as_documented() {
    let sandbox = Sandbox::new();
    for args in [
        &["--help"][..],
        &["--version"],
        &["status"],
        &["list"],
        &["man"],
    ] {
        assert_eq!(run(&sandbox, args).status.code(), Some(0), "{args:?}");
    }
    for (args, message) in [
        (&["--bogus"][..], "unexpected argument '--bogus'"),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (&["status", "--format", "xml"], "invalid value 'xml'"),
        (&["export"], "required arguments were not provided"),
        (&["get", "nowhere.example"], ""),
    ] {
        common::assert_failure(&run(&sandbox, args), message);
    }
}
