//! `loa manpages --out DIR` (hidden): the manual pages, loa.1 and one per
//! subcommand (loa-run.1, loa-check.1, ...), rendered by clap_mangen from
//! the clap definitions of src/cli.rs, the same ones `--help` prints, so the
//! two cannot drift apart. scripts/build-deb runs it with the release binary
//! it packs and installs the pages under /usr/share/man/man1.
//!
//! A hidden subcommand rather than build.rs or a tool of its own: cli.rs
//! names the argument types of every subcommand (runtime, cmd), so a build
//! script could only see it if the whole command line moved into a crate
//! of its own, and a separate generator would be a second release build.
//! This way the binary that is packaged describes itself, as `--help` does.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

#[derive(Debug, clap::Args)]
pub struct ManpagesArgs {
    /// Directory to write loa.1 and loa-COMMAND.1 into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: &ManpagesArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    // As clap_mangen::generate_to, but every page's footer names the version
    // (a subcommand has none of its own). Hidden subcommands (this one) get
    // no page, and neither does `help`; loa's commands have no subcommands.
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    let source = format!("loa {}", cli.get_version().unwrap_or_default());
    let subcommands: Vec<clap::Command> = cli
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    for cmd in std::iter::once(cli).chain(subcommands) {
        clap_mangen::Man::new(cmd)
            .source(&source)
            .generate_to(&args.out)
            .with_context(|| format!("cannot write a manual page into {}", args.out.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every subcommand an administrator can type has its page, named as
    /// `man loa-COMMAND` finds it and listed on `man loa`, and each page says
    /// what the command does in the words of `--help`, for this version.
    #[test]
    fn every_subcommand_has_a_manual_page() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("man1");
        run(&ManpagesArgs { out: out.clone() }).expect("the pages are written");

        let version = format!("\"loa {}\"", env!("CARGO_PKG_VERSION"));
        let page = |name: &str| {
            let path = out.join(format!("{name}.1"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{} (man {name}): {e}", path.display()));
            // The title line: the page's name, section 1, the version.
            let title = text
                .lines()
                .find(|l| l.starts_with(".TH "))
                .unwrap_or_else(|| panic!("{name}.1 has a .TH line:\n{text}"));
            assert!(title.starts_with(&format!(".TH {name} 1 ")), "{title}");
            assert!(
                title.contains(&version),
                "{name}.1 names {version}: {title}"
            );
            text
        };
        let top = page("loa");
        assert!(top.contains("the broadcast scheduler of a commune loudspeaker radio station"));

        let mut expected = vec!["loa.1".to_string()];
        for sub in Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
        {
            let name = format!("loa-{}", sub.get_name());
            let text = page(&name);
            let about = sub.get_about().expect("every subcommand says what it does");
            // The first words, as roff writes hyphens and apostrophes.
            let words = about
                .to_string()
                .split(' ')
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
                .replace('-', "\\-")
                .replace('\'', "\\*(Aq");
            assert!(text.contains(&words), "{name}.1 has `{words}`:\n{text}");
            // In roff, loa-run(1) is written loa\-run(1).
            let listed = format!("{}(1)", name.replace('-', "\\-"));
            assert!(top.contains(&listed), "loa.1 lists {listed}");
            expected.push(format!("{name}.1"));
        }
        assert!(expected.len() > 10, "the subcommands: {expected:?}");

        // Nothing else: no page for `help` or for this hidden command.
        let mut written: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        written.sort();
        expected.sort();
        assert_eq!(written, expected);
    }
}
