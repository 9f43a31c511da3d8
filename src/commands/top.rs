//! `pyperf top`: a live, refreshing table of the hottest functions (Python
//! and native frames) of a command or running process, like `py-spy top`.
//!
//! It is `pyperf record` plus a reader: the recording runs on its own
//! thread into a profile file (a temporary one unless `-o` keeps it), with
//! the same target handling, signals and fallbacks as `record`; the screen
//! thread re-reads the streamed file at every refresh (it is readable while
//! being written) and draws the table on the terminal's alternate screen.
//!
//! - `q`, `Esc` or Ctrl-C quit: pyperf sends itself SIGINT, which the
//!   recording handles as it does in `record` (the command gets SIGINT, then
//!   SIGTERM after a grace period; attached processes are left running).
//! - The command's stdin is `/dev/null` and its stdout and stderr are kept
//!   in files and shown after the screen is restored, so they do not tear
//!   the display.
//! - The terminal is restored on every exit path: normal, error, panic.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::style::{Attribute, Print, SetAttribute};
use crossterm::terminal::{self, ClearType};
use crossterm::{cursor, queue};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::record::record_to;
use super::views::filtered;
use crate::cli::{SamplingArgs, TopArgs};
use crate::exit;
use crate::output::{render_top_rows, top_table, TopOptions, TopTable};
use crate::profile::{read_profile, Meta, Profile};
use crate::record::session::RecordOutcome;
use crate::symbols::{Symbolizer, SymbolizerOptions};
use crate::target::signals::SignalWatcher;
use crate::target::{attach, ExitStatus};

/// How much of the command's captured output is shown at the end.
const REPLAY_BYTES: u64 = 64 * 1024;

/// Runs `pyperf top`; returns the exit code.
pub fn run(args: &TopArgs) -> anyhow::Result<i32> {
    if !(args.delay.is_finite() && args.delay >= 0.05) {
        return Err(exit::usage("--delay must be at least 0.05 seconds"));
    }
    if args.sampling.pid.is_some() != args.sampling.command.is_empty() {
        return Err(exit::usage(
            "give a command (`pyperf top -- python3 app.py`) or -p PID, not both",
        ));
    }
    let tty = File::options()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| {
            exit::with_code(
                1,
                format!("top needs a terminal (/dev/tty: {e}); without one, use `pyperf record` and `pyperf report`"),
            )
        })?;
    let scratch = ScratchDir::create()?;
    let profile_path = args
        .output
        .clone()
        .unwrap_or_else(|| scratch.path.join("top.pyperf"));
    let sampling = sampling_args(args);
    let title = match &args.sampling.pid {
        Some(pids) => format!(
            "pid {}",
            pids.iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
        None => args
            .sampling
            .command
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
    };

    let capture = StdioCapture::start(&scratch.path)?;
    let signals = SignalWatcher::install()?;
    let (done_tx, done_rx) = mpsc::channel();
    let (ended, interrupted, shown) = std::thread::scope(|scope| {
        scope.spawn(|| {
            let _ = done_tx.send(record_to(&sampling, &profile_path, &signals));
        });
        let mut ui = Ui::new(&profile_path, title, args);
        let (shown, screen) = match Screen::enter(tty) {
            Ok(mut screen) => {
                let shown = ui.run(&mut screen, &done_rx, args.sampling.pid.as_deref());
                if ui.ended.is_none() {
                    ui.status = "stopping...".into();
                    let _ = ui.draw(&mut screen);
                }
                (shown, Some(screen))
            }
            Err(e) => (Err(e), None),
        };
        let interrupted = ui.ended.is_none();
        let ended = ui.ended.take().unwrap_or_else(|| {
            // Still recording: stop it as a Ctrl-C stops `record`.
            let _ = kill(Pid::this(), Signal::SIGINT);
            done_rx.recv().unwrap_or_else(|_| {
                Err(exit::with_code(
                    1,
                    "the recording thread ended without a result",
                ))
            })
        });
        drop(screen);
        (ended, interrupted, shown)
    });
    drop(signals);
    capture.finish();
    shown?;
    let outcome = ended?;
    if args.output.is_some() {
        eprintln!(
            "pyperf: {} samples recorded in {}",
            outcome.written.samples,
            profile_path.display()
        );
    }
    if interrupted {
        return Ok(0);
    }
    if let Some(ExitStatus::Signaled(sig)) = outcome.exit {
        eprintln!("pyperf: the command was killed by {sig}");
    }
    Ok(outcome.exit.map_or(0, ExitStatus::exit_code))
}

/// The `record` arguments `top` records with: stopped-mode stacks unless
/// another call graph is asked for, everything else as `record` defaults.
/// What `top` records: the sampling options, always with call stacks.
fn sampling_args(args: &TopArgs) -> SamplingArgs {
    SamplingArgs {
        call_graph_default: true,
        ..args.sampling.clone()
    }
}

/// How the recording ended, as the screen shows it.
type Ended = anyhow::Result<RecordOutcome>;

/// The screen's state between refreshes.
struct Ui<'a> {
    path: &'a Path,
    title: String,
    delay: Duration,
    lines: bool,
    hide_idle: bool,
    show_libpython: bool,
    symbolizer: Symbolizer,
    profile: Option<Profile>,
    /// Newest sample time of the last refresh: the next window starts there.
    window_start: Option<u64>,
    /// Where the shown window starts (`None`: the whole run).
    shown_since: Option<u64>,
    window_secs: f64,
    last_refresh: Instant,
    table: Option<TopTable>,
    started: Instant,
    status: String,
    ended: Option<Ended>,
}

impl<'a> Ui<'a> {
    fn new(path: &'a Path, title: String, args: &TopArgs) -> Ui<'a> {
        Ui {
            path,
            title,
            delay: Duration::from_secs_f64(args.delay),
            lines: args.lines,
            hide_idle: !args.idle,
            show_libpython: args.show_libpython,
            symbolizer: Symbolizer::new(SymbolizerOptions::default()),
            profile: None,
            window_start: None,
            shown_since: None,
            window_secs: args.delay,
            last_refresh: Instant::now(),
            table: None,
            started: Instant::now(),
            status: "waiting for the first samples...".into(),
            ended: None,
        }
    }

    /// Refreshes and reads keys until the user quits, or the recording ends
    /// in a way that needs no final screen.
    fn run(
        &mut self,
        screen: &mut Screen,
        done: &mpsc::Receiver<Ended>,
        pids: Option<&[i32]>,
    ) -> anyhow::Result<()> {
        let mut next_refresh = Instant::now() + Duration::from_millis(300);
        self.draw(screen)?;
        loop {
            if self.ended.is_none() {
                if let Ok(ended) = done.try_recv() {
                    self.finish(ended);
                    if self.needs_no_final_screen(pids) {
                        return Ok(());
                    }
                    self.draw(screen)?;
                }
            }
            let wait = next_refresh
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100));
            if event::poll(wait)? {
                match event::read()? {
                    Event::Key(key) if key.kind != KeyEventKind::Release => match key.code {
                        KeyCode::Char('q' | 'Q') | KeyCode::Esc => return Ok(()),
                        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                            return Ok(())
                        }
                        KeyCode::Char('l' | 'L') => {
                            self.lines = !self.lines;
                            self.recompute();
                            self.draw(screen)?;
                        }
                        _ => {}
                    },
                    Event::Resize(..) => self.draw(screen)?,
                    _ => {}
                }
            }
            if self.ended.is_none() && Instant::now() >= next_refresh {
                self.refresh();
                self.draw(screen)?;
                next_refresh = Instant::now() + self.delay;
            }
        }
    }

    /// The recording ended: show the whole run.
    fn finish(&mut self, ended: Ended) {
        self.shown_since = None;
        self.reload();
        self.recompute();
        self.status = match &ended {
            Ok(outcome) => match outcome.exit {
                Some(ExitStatus::Exited(code)) => {
                    format!("the command exited with code {code}: whole run shown; q quits")
                }
                Some(ExitStatus::Signaled(sig)) => {
                    format!("the command was killed by {sig}: whole run shown; q quits")
                }
                None => "the processes are gone: whole run shown; q quits".into(),
            },
            Err(e) => format!("the recording failed: {e}"),
        };
        self.ended = Some(ended);
    }

    /// Ends at once (no final screen) on a failed recording, or when pyperf
    /// itself was interrupted or terminated rather than the program ending.
    fn needs_no_final_screen(&self, pids: Option<&[i32]>) -> bool {
        match &self.ended {
            Some(Err(_)) => true,
            Some(Ok(outcome)) => match (pids, outcome.exit) {
                (Some(pids), _) => pids.iter().any(|&p| attach::is_alive(p)),
                (None, Some(ExitStatus::Signaled(sig))) => matches!(
                    sig,
                    Signal::SIGINT | Signal::SIGTERM | Signal::SIGHUP | Signal::SIGQUIT
                ),
                (None, _) => false,
            },
            None => false,
        }
    }

    /// Reads what the recording wrote so far; the recent window is what
    /// came after the previous refresh.
    fn refresh(&mut self) {
        self.reload();
        self.shown_since = self.window_start;
        self.recompute();
        if let Some(table) = self.table.as_ref().filter(|t| t.samples > 0) {
            self.window_start = Some(table.newest_ns);
            self.status = "q or Ctrl-C: quit · l: functions/lines".into();
        }
        self.window_secs = self.last_refresh.elapsed().as_secs_f64();
        self.last_refresh = Instant::now();
    }

    fn reload(&mut self) {
        if let Ok(outcome) = read_profile(self.path, Some(&mut self.symbolizer)) {
            self.profile = Some(outcome.profile);
        }
        for warning in self.symbolizer.take_warnings() {
            // Captured with the command's output and shown at the end.
            eprintln!("pyperf: {warning}");
        }
    }

    /// Recomputes the table of the shown window (after a refresh or a key).
    fn recompute(&mut self) {
        let Some(profile) = &self.profile else {
            return;
        };
        let opts = TopOptions {
            selection: filtered(None, !self.hide_idle, self.show_libpython),
            lines: self.lines,
            since_ns: self.shown_since,
        };
        if let Ok(table) = top_table(profile, &opts) {
            self.table = Some(table);
        }
    }

    fn draw(&self, screen: &mut Screen) -> anyhow::Result<()> {
        let (width, height) = terminal::size().unwrap_or((80, 24));
        let (width, height) = (usize::from(width.max(20)), usize::from(height.max(5)));
        let mut lines: Vec<String> = Vec::with_capacity(height);
        lines.push(format!("pyperf top · {}", self.title));
        lines.push(self.summary());
        lines.push(self.status.clone());
        lines.push(String::new());
        if let Some(table) = &self.table {
            lines.extend(render_top_rows(table, width, height.saturating_sub(5)));
        }
        let out = &mut screen.tty;
        queue!(out, cursor::MoveTo(0, 0))?;
        for (row, line) in lines.iter().take(height).enumerate() {
            let text: String = line.chars().take(width).collect();
            queue!(out, cursor::MoveTo(0, row as u16))?;
            if row == 0 || row == 4 {
                queue!(
                    out,
                    SetAttribute(Attribute::Bold),
                    Print(text),
                    SetAttribute(Attribute::Reset)
                )?;
            } else {
                queue!(out, Print(text))?;
            }
            queue!(out, terminal::Clear(ClearType::UntilNewLine))?;
        }
        queue!(
            out,
            cursor::MoveTo(0, lines.len().min(height) as u16),
            terminal::Clear(ClearType::FromCursorDown)
        )?;
        out.flush()?;
        Ok(())
    }

    /// The line under the title: event, samples, time, merge consistency.
    fn summary(&self) -> String {
        let Some(table) = &self.table else {
            return format!("{:.0} s", self.started.elapsed().as_secs_f64());
        };
        let window = if self.shown_since.is_none() && self.ended.is_some() {
            "the whole run".to_string()
        } else {
            format!(
                "{} in the last {:.1} s",
                table.recent_samples, self.window_secs
            )
        };
        let mut s = format!(
            "{} · {} samples ({window}) · {:.0} s",
            table.event,
            table.samples,
            self.started.elapsed().as_secs_f64()
        );
        if let Some(meta) = self.profile.as_ref().map(|p| &p.meta) {
            s.push_str(&merge_note(meta));
        }
        s
    }
}

/// Consistency of the Python/native merges and lost samples, when known.
fn merge_note(meta: &Meta) -> String {
    let mut s = String::new();
    if meta.merged_samples > 0 {
        let good = meta.merged_samples - meta.inconsistent_merges.min(meta.merged_samples);
        s.push_str(&format!(
            " · Python merges consistent: {:.1}%",
            100.0 * good as f64 / meta.merged_samples as f64
        ));
    }
    if meta.lost_samples > 0 {
        s.push_str(&format!(" · lost: {}", meta.lost_samples));
    }
    s
}

/// The terminal in raw mode on the alternate screen; restored on drop and,
/// through a panic hook, on panics.
struct Screen {
    tty: File,
}

impl Screen {
    fn enter(mut tty: File) -> anyhow::Result<Screen> {
        terminal::enable_raw_mode()?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        let screen = Screen {
            tty: tty.try_clone()?,
        };
        queue!(tty, terminal::EnterAlternateScreen, cursor::Hide)?;
        tty.flush()?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = queue!(self.tty, cursor::Show, terminal::LeaveAlternateScreen);
        let _ = self.tty.flush();
        let _ = terminal::disable_raw_mode();
        let _ = std::panic::take_hook(); // back to the default hook
    }
}

/// The terminal as it was (for the panic hook, which owns no [`Screen`]).
fn restore_terminal() {
    if let Ok(mut tty) = File::options().write(true).open("/dev/tty") {
        let _ = queue!(tty, cursor::Show, terminal::LeaveAlternateScreen);
        let _ = tty.flush();
    }
    let _ = terminal::disable_raw_mode();
}

/// A private directory for the recording and captured output, removed on drop.
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    fn create() -> anyhow::Result<ScratchDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!("pyperf-top-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| exit::with_code(1, format!("cannot create {}: {e}", path.display())))?;
        Ok(ScratchDir { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Standard input, output and error redirected (input from /dev/null,
/// output into files) while the screen is up, and put back afterwards.
struct StdioCapture {
    saved: Option<[OwnedFd; 3]>,
    out: File,
    err: File,
}

impl StdioCapture {
    fn start(dir: &Path) -> anyhow::Result<StdioCapture> {
        let _ = std::io::stdout().flush();
        let saved = [
            std::io::stdin().as_fd().try_clone_to_owned()?,
            std::io::stdout().as_fd().try_clone_to_owned()?,
            std::io::stderr().as_fd().try_clone_to_owned()?,
        ];
        let null = File::open("/dev/null")?;
        let open = |name: &str| {
            File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(dir.join(name))
        };
        let (out, err) = (open("stdout")?, open("stderr")?);
        nix::unistd::dup2_stdin(&null)?;
        nix::unistd::dup2_stdout(&out)?;
        nix::unistd::dup2_stderr(&err)?;
        Ok(StdioCapture {
            saved: Some(saved),
            out,
            err,
        })
    }

    /// Puts the descriptors back and shows what was captured (its last
    /// [`REPLAY_BYTES`] bytes each).
    fn finish(mut self) {
        self.restore();
        replay(&mut self.out, &mut std::io::stdout());
        replay(&mut self.err, &mut std::io::stderr());
    }

    fn restore(&mut self) {
        if let Some([stdin, stdout, stderr]) = self.saved.take() {
            let _ = std::io::stdout().flush();
            let _ = nix::unistd::dup2_stdin(&stdin);
            let _ = nix::unistd::dup2_stdout(&stdout);
            let _ = nix::unistd::dup2_stderr(&stderr);
        }
    }
}

impl Drop for StdioCapture {
    fn drop(&mut self) {
        self.restore();
    }
}

fn replay(file: &mut File, to: &mut dyn Write) {
    let len = file.seek(SeekFrom::End(0)).unwrap_or(0);
    if len == 0 {
        return;
    }
    let start = len.saturating_sub(REPLAY_BYTES);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return;
    }
    let mut bytes = Vec::new();
    if std::io::Read::read_to_end(file, &mut bytes).is_err() {
        return;
    }
    if start > 0 {
        let _ = writeln!(
            to,
            "[pyperf top: {start} earlier bytes of output not shown]"
        );
    }
    let _ = to.write_all(&bytes);
    let _ = to.flush();
}
