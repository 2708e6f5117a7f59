//! The zips `just test` deploys instead of cargo-lambda's arm64 build: this build's native
//! binaries, stripped of their debug information, laid out as cargo-lambda lays them out
//! (`bootstrap` at the root; the API's with the dashboard under `web/dist/`).

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use test_support::workspace_binary;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

/// The API's and the bot's zips, written into `dir`.
pub fn native(root: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let dashboard = root.join("web/dist");
    assert!(
        dashboard.join("index.html").is_file(),
        "the dashboard is not built: run `just web` first"
    );
    let api = dir.join("tandem-api.zip");
    let bot = dir.join("tandem-bot.zip");
    write_zip(&api, &stripped("tandem-api", dir), Some(&dashboard));
    write_zip(&bot, &stripped("tandem-bot", dir), None);
    (api, bot)
}

/// A copy of the workspace binary `name` without its debug information.
fn stripped(name: &str, dir: &Path) -> PathBuf {
    let copy = dir.join(format!("{name}.bootstrap"));
    let status = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(workspace_binary(name))
        .arg(&copy)
        .status()
        .expect("run objcopy (binutils)");
    assert!(status.success(), "objcopy --strip-debug {name} failed");
    copy
}

/// A zip of `bootstrap` (executable) and, under `web/dist/`, every file of `dashboard`.
fn write_zip(path: &Path, bootstrap: &Path, dashboard: Option<&Path>) {
    let mut zip = ZipWriter::new(File::create(path).expect("create a zip"));
    let file = SimpleFileOptions::default().unix_permissions(0o644);
    zip.start_file("bootstrap", file.unix_permissions(0o755))
        .expect("add the bootstrap");
    zip.write_all(&std::fs::read(bootstrap).expect("read the bootstrap"))
        .expect("write the bootstrap");
    if let Some(dashboard) = dashboard {
        let mut files = Vec::new();
        collect_files(dashboard, &mut files);
        files.sort();
        for file_path in files {
            let relative = file_path
                .strip_prefix(dashboard)
                .expect("a file of the dashboard");
            let name = format!("web/dist/{}", relative.display());
            zip.start_file(name, file).expect("add a dashboard file");
            zip.write_all(&std::fs::read(&file_path).expect("read a dashboard file"))
                .expect("write a dashboard file");
        }
    }
    zip.finish().expect("finish the zip");
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a folder of the dashboard") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}
