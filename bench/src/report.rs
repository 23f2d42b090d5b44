//! Writing a benchmark's markdown report without losing what people wrote under it.
//!
//! A report file is the generated part (machine, command, tables, definitions), rewritten by every run, then
//! optionally a hand-written part starting at a line `## Findings` (what the numbers mean, what limits them,
//! decisions taken). A new run replaces the first and keeps the second, so re-running a benchmark never
//! erases the analysis; the findings may then describe an older run, which is why they should name figures
//! with the run they came from.

use std::path::Path;

/// The heading that starts the hand-written part of a report.
pub const FINDINGS: &str = "## Findings";

/// Write `generated` to `path` (creating its directory), followed by the hand-written part of the file
/// already there, if any.
pub fn write(path: &Path, generated: &str) -> std::io::Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(old) => old,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, merge(generated, &old))
}

fn merge(generated: &str, old: &str) -> String {
    let mut text = generated.trim_end().to_owned();
    text.push('\n');
    if let Some(findings) = hand_written(old) {
        text.push('\n');
        text.push_str(findings);
    }
    text
}

/// Everything from the first line that starts with [`FINDINGS`].
fn hand_written(old: &str) -> Option<&str> {
    let mut offset = 0;
    for line in old.split_inclusive('\n') {
        if line.starts_with(FINDINGS) {
            return Some(&old[offset..]);
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_run_replaces_the_generated_part_and_keeps_the_findings() {
        let old = "# Bench\n\n| a |\n|---|\n| 1 |\n\n## Findings\n\n- one is small\n";
        assert_eq!(
            merge("# Bench\n\n| a |\n|---|\n| 2 |\n\n", old),
            "# Bench\n\n| a |\n|---|\n| 2 |\n\n## Findings\n\n- one is small\n"
        );
    }

    #[test]
    fn without_findings_the_file_is_the_generated_part() {
        assert_eq!(merge("# Bench\n", ""), "# Bench\n");
        assert_eq!(
            merge("# Bench\n", "# Bench\n## Results\nold\n"),
            "# Bench\n"
        );
    }

    #[test]
    fn only_a_heading_at_the_start_of_a_line_counts() {
        let old = "text mentioning ## Findings inline\n## Findings (hand-written)\nkept\n";
        assert_eq!(
            merge("new\n", old),
            "new\n\n## Findings (hand-written)\nkept\n"
        );
    }

    #[test]
    fn write_keeps_findings_across_runs() {
        let dir = std::env::temp_dir().join(format!("bench-report-{}", std::process::id()));
        let path = dir.join("r.md");
        write(&path, "run 1\n").unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{first}\n## Findings\nwritten by hand\n")).unwrap();
        write(&path, "run 2\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "run 2\n\n## Findings\nwritten by hand\n"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
