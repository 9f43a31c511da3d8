//! Flame graph SVGs: structure, names, colours by kind, orientation options,
//! and whole-or-nothing files.

mod support;

use std::process::Command;

use pyperf::output::{
    render_flamegraph, write_flamegraph, CollapseOptions, FlamegraphOptions, OutputError,
    Selection, WeightMode,
};
use pyperf::profile::{Frame, Profile, ProfileBuilder, Sample, ThreadInfo};
use support::{cpu_clock, kernel, native, py};

fn profile_of(stacks: &[(Vec<Frame>, u64)]) -> Profile {
    let mut b = ProfileBuilder::new();
    b.add_event(cpu_clock());
    b.add_thread(ThreadInfo {
        pid: 100,
        tid: 101,
        name: "python3".into(),
    });
    let mut time = 0;
    for (frames, n) in stacks {
        let stack = b.intern_frames(frames.iter());
        for _ in 0..*n {
            time += 1000;
            b.add_sample(Sample {
                stack,
                thread: 0,
                time_ns: time,
                event: 0,
                weight: 1_001_001,
                idle: false,
            });
        }
    }
    b.meta_mut().command = vec!["python3".into(), "app.py".into()];
    b.finish()
}

/// Python user code, native, kernel and a stdlib Python function.
fn mixed() -> Profile {
    profile_of(&[
        (
            vec![
                py("main", "/srv/app.py", 3),
                py("a", "/srv/app.py", 7),
                native("PyObject_Call", "/usr/lib/libpython3.12.so"),
                kernel("clear_page_erms"),
            ],
            70,
        ),
        (
            vec![
                py("<module>", "/srv/app.py", 4),
                py("loads", "/usr/lib/python3.12/json/__init__.py", 346),
            ],
            30,
        ),
    ])
}

/// One drawn box: its tooltip title, fill colour and vertical position.
#[derive(Debug)]
struct Box {
    title: String,
    rgb: (u8, u8, u8),
    y: u32,
}

/// The boxes of an inferno SVG: `<g><title>T</title><rect ... y="Y" ... fill="rgb(R,G,B)"`.
fn boxes(svg: &str) -> Vec<Box> {
    svg.split("<g><title>")
        .skip(1)
        .map(|part| {
            let title = part.split("</title>").next().unwrap().to_string();
            let attr = |name: &str| {
                let start = part.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                part[start..].split('"').next().unwrap().to_string()
            };
            let fill = attr("fill");
            let nums: Vec<u8> = fill
                .trim_start_matches("rgb(")
                .trim_end_matches(')')
                .split(',')
                .map(|n| n.trim().parse().unwrap())
                .collect();
            Box {
                title,
                rgb: (nums[0], nums[1], nums[2]),
                y: attr("y").parse().unwrap(),
            }
        })
        .collect()
}

fn find<'a>(boxes: &'a [Box], prefix: &str) -> &'a Box {
    boxes
        .iter()
        .find(|b| b.title.starts_with(prefix))
        .unwrap_or_else(|| panic!("no box {prefix}: {boxes:?}"))
}

fn render(p: &Profile, opts: &FlamegraphOptions<'_>) -> String {
    String::from_utf8(render_flamegraph(p, opts).unwrap()).unwrap()
}

#[test]
fn svg_has_title_one_box_per_frame_and_the_search_script() {
    let svg = render(&mixed(), &FlamegraphOptions::default());
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"));
    assert!(svg.contains("python3 app.py (cpu-clock)"), "title");
    assert!(svg.contains("function search("), "search script");
    assert!(svg.contains("function zoom("), "zoom script");
    let b = boxes(&svg);
    // all, main, a, PyObject_Call, clear_page_erms, <module>, loads
    assert_eq!(b.len(), 7, "{b:?}");
    assert_eq!(svg.matches("<g>").count(), svg.matches("</g>").count());
    find(&b, "a (/srv/app.py:7) (70 samples, 70.00%)");
    find(&b, "&lt;module&gt; (/srv/app.py:4) (30 samples, 30.00%)");
    find(&b, "all (100 samples, 100%)");
}

#[test]
fn svg_is_well_formed_xml() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fg.svg");
    write_flamegraph(&path, &mixed(), &FlamegraphOptions::default()).unwrap();
    let check = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])",
        ])
        .arg(&path)
        .status();
    match check {
        Ok(status) => assert!(status.success(), "python3's XML parser rejected the SVG"),
        Err(e) => eprintln!("skipped: no python3 to parse the SVG ({e})"),
    }
}

#[test]
fn colours_tell_python_library_native_and_kernel_apart() {
    let b = boxes(&render(&mixed(), &FlamegraphOptions::default()));
    let (r, g, bl) = find(&b, "a (").rgb;
    assert!(
        g > r + 60 && g > bl + 60,
        "Python user code is green: {r},{g},{bl}"
    );
    let (r, g, bl) = find(&b, "loads (").rgb;
    assert!(
        g > r + 40 && bl > r + 40 && g.abs_diff(bl) < 5,
        "library is aqua: {r},{g},{bl}"
    );
    let (r, g, bl) = find(&b, "PyObject_Call").rgb;
    assert!(r == g && r > bl + 80, "native is yellow: {r},{g},{bl}");
    let (r, g, bl) = find(&b, "clear_page_erms").rgb;
    assert!(r > g + 60 && bl == 0, "kernel is orange: {r},{g},{bl}");
}

#[test]
fn icicle_draws_roots_on_top() {
    let p = mixed();
    let flame = boxes(&render(&p, &FlamegraphOptions::default()));
    assert!(find(&flame, "main").y > find(&flame, "a (").y);
    let icicle = boxes(&render(
        &p,
        &FlamegraphOptions {
            icicle: true,
            ..FlamegraphOptions::default()
        },
    ));
    assert!(find(&icicle, "main").y < find(&icicle, "a (").y);
}

#[test]
fn reversed_stacks_put_running_functions_at_the_root() {
    let p = mixed();
    let flame = boxes(&render(&p, &FlamegraphOptions::default()));
    assert_ne!(find(&flame, "clear_page_erms").y, find(&flame, "loads").y);
    let reversed = boxes(&render(
        &p,
        &FlamegraphOptions {
            reverse_stacks: true,
            ..FlamegraphOptions::default()
        },
    ));
    let leaf_row = find(&reversed, "clear_page_erms").y;
    assert_eq!(find(&reversed, "loads").y, leaf_row);
    assert!(
        find(&reversed, "main").y < leaf_row,
        "callers stacked above"
    );
}

#[test]
fn per_thread_weights_and_titles() {
    let p = mixed();
    let svg = render(
        &p,
        &FlamegraphOptions {
            collapse: CollapseOptions {
                per_thread: true,
                weights: WeightMode::Weight,
                ..CollapseOptions::default()
            },
            title: Some("my title"),
            ..FlamegraphOptions::default()
        },
    );
    assert!(svg.contains("my title"));
    let b = boxes(&svg);
    find(&b, "python3-100/101 (100,100,100 ns, 100.00%)");
    let (r, g, bl) = find(&b, "python3-100/101").rgb;
    assert!(r == g && g == bl, "thread roots are grey");
}

#[test]
fn no_samples_is_an_error_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.svg");
    let p = profile_of(&[]);
    let err = write_flamegraph(&path, &p, &FlamegraphOptions::default()).unwrap_err();
    assert!(matches!(err, OutputError::NoSamples { .. }), "{err}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());

    // A failed render keeps an existing file as it was.
    std::fs::write(&path, "old").unwrap();
    let hide_all = |_: &Frame| true;
    let opts = FlamegraphOptions {
        collapse: CollapseOptions {
            selection: Selection {
                event: Some("cycles"),
                keep_frame: Some(&hide_all),
                ..Selection::default()
            },
            ..CollapseOptions::default()
        },
        ..FlamegraphOptions::default()
    };
    let err = write_flamegraph(&path, &mixed(), &opts).unwrap_err();
    assert!(matches!(err, OutputError::UnknownEvent { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
}

#[test]
fn unwritable_target_is_an_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("fg.svg");
    let err = write_flamegraph(&path, &mixed(), &FlamegraphOptions::default()).unwrap_err();
    assert!(err.to_string().contains("fg.svg"), "{err}");
    assert!(!path.exists());
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}
