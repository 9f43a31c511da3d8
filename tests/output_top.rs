//! `pyperf top` driven through a real terminal (tmux): it shows the mixed
//! Python/C fixture's hot functions, quits on `q` (stopping the command as
//! `record` does) or Ctrl-C (leaving an attached process running), and
//! gives the terminal back (alternate screen off, the command's output shown).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::fixtures;
use common::tools::system_tool;
use common::{pyperf_path, pythons, run, stdout_of};

/// A detached tmux session running one shell command; killed on drop.
struct Tmux {
    tmux: PathBuf,
    name: String,
}

impl Tmux {
    fn start(tmux: &Path, name: &str, command: &str) -> Tmux {
        let out = run(Command::new(tmux)
            .args(["new-session", "-d", "-s", name, "-x", "160", "-y", "40"])
            .arg(command));
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmux {
            tmux: tmux.to_path_buf(),
            name: name.to_string(),
        }
    }

    fn screen(&self) -> String {
        stdout_of(&run(Command::new(&self.tmux).args([
            "capture-pane",
            "-p",
            "-t",
            &self.name,
        ])))
    }

    fn alternate_screen(&self) -> bool {
        let out = run(Command::new(&self.tmux).args([
            "display",
            "-p",
            "-t",
            &self.name,
            "#{alternate_on}",
        ]));
        stdout_of(&out).trim() == "1"
    }

    fn keys(&self, keys: &str) {
        run(Command::new(&self.tmux).args(["send-keys", "-t", &self.name, keys]));
    }

    /// Waits until the screen satisfies `ok`; panics with the screen after `secs`.
    fn wait_for(&self, secs: u64, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {what}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new(&self.tmux)
            .args(["kill-session", "-t", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// The table rows (function names, hottest first) on a `top` screen.
fn top_functions(screen: &str) -> Vec<String> {
    screen
        .lines()
        .skip_while(|l| !l.contains("%Own"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(5).map(str::to_string))
        .collect()
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// Waits for `path` to exist and returns its trimmed content.
fn wait_file(path: &Path, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(100));
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

fn setup() -> Option<(PathBuf, pythons::Python)> {
    let tmux = system_tool("tmux", "tmux")?;
    let Some(python) = pythons::find(12).or_else(|| pythons::installed().pop()) else {
        eprintln!("SKIPPED: no CPython 3.8+ installed");
        return None;
    };
    Some((tmux, python))
}

#[test]
fn top_shows_the_hot_mixed_functions_and_quits_on_q() {
    let Some((tmux, python)) = setup() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.json");
    let status = dir.path().join("status");
    let cmd = fixtures::python_fixture_command(&python, "app", 60.0, &truth);
    let argv: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| quote(Path::new(a)))
        .collect();
    let shell = format!(
        "{} top -e cpu-clock -d 0.5 -- {}; echo $? > {}; sleep 60",
        quote(&pyperf_path()),
        argv.join(" "),
        quote(&status)
    );
    let session = Tmux::start(
        &tmux,
        &format!("pyperf-top-q-{}", std::process::id()),
        &shell,
    );
    let screen = session.wait_for(30, "c_spin_inner and py_work at the top", |s| {
        let top: Vec<String> = top_functions(s).into_iter().take(3).collect();
        top.iter().any(|f| f == "c_spin_inner") && top.iter().any(|f| f == "py_work")
    });
    assert!(screen.contains("pyperf top"), "{screen}");
    assert!(
        session.alternate_screen(),
        "top draws on the alternate screen"
    );
    // Kinds are told apart on every row.
    let row = |f: &str| {
        screen
            .lines()
            .find(|l| l.split_whitespace().nth(5) == Some(f))
            .unwrap()
            .to_string()
    };
    assert!(
        row("c_spin_inner").contains(" native "),
        "{}",
        row("c_spin_inner")
    );
    assert!(
        row("py_work").contains(" py ") && row("py_work").contains("app.py"),
        "{}",
        row("py_work")
    );

    session.keys("q");
    assert_eq!(wait_file(&status, 15), "0", "exit status after q");
    assert!(
        !session.alternate_screen(),
        "the terminal is back on its main screen"
    );
    // The command was stopped like a Ctrl-C'd `record` stops it, and its
    // output is shown once the screen is restored.
    let after = session.wait_for(5, "the command's output", |s| {
        s.contains("KeyboardInterrupt")
    });
    assert!(!after.contains("%Own"), "{after}");
}

#[test]
fn top_attached_quits_on_ctrl_c_and_leaves_the_process_running() {
    let Some((tmux, python)) = setup() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.json");
    let status = dir.path().join("status");
    let mut cmd = fixtures::python_fixture_command(&python, "app", 60.0, &truth);
    struct Killed(Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut app = Killed(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let shell = format!(
        "{} top -e cpu-clock -d 0.5 -p {}; echo $? > {}; sleep 60",
        quote(&pyperf_path()),
        app.0.id(),
        quote(&status)
    );
    let session = Tmux::start(
        &tmux,
        &format!("pyperf-top-c-{}", std::process::id()),
        &shell,
    );
    session.wait_for(30, "c_spin_inner in the table", |s| {
        top_functions(s).iter().take(3).any(|f| f == "c_spin_inner")
    });
    session.keys("C-c");
    assert_eq!(wait_file(&status, 15), "0", "exit status after Ctrl-C");
    assert!(
        !session.alternate_screen(),
        "the terminal is back on its main screen"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        app.0.try_wait().unwrap().is_none(),
        "the attached process keeps running"
    );
}
