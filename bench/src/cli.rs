//! What the benchmark binaries' command lines share. Each binary declares its flags as a `clap` derive
//! struct; these are the value parsers and the `--out` rule they have in common.

use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;

/// A clap `value_parser` for numbers as the benchmarks have always taken them: surrounding spaces and `_`
/// separators allowed (`--n 1_000,10_000`).
pub fn num<T: FromStr>(s: &str) -> Result<T, String>
where
    T::Err: Display,
{
    s.trim()
        .replace('_', "")
        .parse()
        .map_err(|e| format!("not a number: {s} ({e})"))
}

/// Where the markdown report goes: `--out` when given, else `default`; a `--smoke` run writes no report
/// unless `--out` was given.
pub fn report_path(out: Option<PathBuf>, smoke: bool, default: &str) -> Option<PathBuf> {
    out.or_else(|| (!smoke).then(|| PathBuf::from(default)))
}

/// For the binaries' tests: clap's own checks of `C`, then `line` (split at spaces) parsed by it.
pub fn parse_line<C: clap::Parser>(line: &str) -> Result<C, clap::Error> {
    C::command().debug_assert();
    C::try_parse_from(line.split(' '))
}
