//! `cargo xtask tidy`: the invariants a reviewer should not have to check by eye.
//!
//! As rust-analyzer's `tidy`: plain text checks over every Rust file of the workspace (and of
//! `fuzz/`), each failure naming the file, the line and the fix. The checks:
//! - `unsafe` appears only in `native-vtep/src/sys.rs`, and every `unsafe` there has a
//!   `// SAFETY:` comment (or, for an `unsafe fn`, a `# Safety` doc section) right above it;
//! - no file under a `src/` folder is longer than [`MAX_LINES`] lines, not counting an inline
//!   `#[cfg(test)] mod tests { .. }` that ends the file;
//! - no `todo!`, `unimplemented!`, `dbg!`, `#[ignore]` or `#[should_panic]`: unfinished code and
//!   tests that never run or pass by panicking do not land;
//! - every source file is named in ARCHITECTURE.md, in the section of its crate;
//! - every integration-test target runs in some suite of `cargo xtask test`, and every fuzz
//!   target is registered with `cargo xtask fuzz`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::env::Ctx;
use crate::{fuzz, suites};

/// The longest a source file under `src/` may be (its trailing test module not counted).
pub const MAX_LINES: usize = 800;

/// The one file allowed to hold `unsafe` code.
const UNSAFE_HOME: &str = "native-vtep/src/sys.rs";

/// The folders whose Rust files are checked: the workspace members and the fuzz crate.
const CRATE_DIRS: &[&str] = &["core", "evpn", "sim", "web", "native-vtep", "xtask", "fuzz"];

/// Integration-test targets that no suite runs, each with the reason and what runs it instead
/// (none today: the soak's target runs its self-check in suite `test`, and its minutes-long
/// run under `cargo xtask soak`).
const NOT_IN_A_SUITE: &[(&str, &str, &str)] = &[];

/// Runs every check; `Err` lists every problem found.
pub fn run(ctx: &Ctx) -> Result<(), String> {
    let files = rust_files(&ctx.root)?;
    let architecture = fs::read_to_string(ctx.root.join("ARCHITECTURE.md"))
        .map_err(|e| format!("cannot read ARCHITECTURE.md: {e}"))?;
    let fuzz_manifest = fs::read_to_string(ctx.root.join("fuzz/Cargo.toml"))
        .map_err(|e| format!("cannot read fuzz/Cargo.toml: {e}"))?;

    let mut problems = Vec::new();
    for file in &files {
        let text = fs::read_to_string(ctx.root.join(file))
            .map_err(|e| format!("cannot read {file}: {e}"))?;
        check_source(file, &text, &mut problems);
    }
    check_named(&files, &architecture, &mut problems);
    check_test_targets(&files, &mut problems);
    check_fuzz_targets(&files, &fuzz_manifest, &mut problems);

    println!("tidy: {} Rust files checked", files.len());
    if problems.is_empty() {
        println!("tidy: clean");
        Ok(())
    } else {
        for p in &problems {
            println!("tidy: {p}");
        }
        Err(format!("{} tidy problem(s), listed above", problems.len()))
    }
}

/// Every `.rs` file below the checked crate folders, as repo-relative paths with `/`,
/// skipping build output and installed packages.
fn rust_files(root: &Path) -> Result<Vec<String>, String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
        let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {dir:?}: {e}"))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(
                    name,
                    "target" | "node_modules" | "corpus" | "artifacts" | "coverage"
                ) && !name.starts_with('.')
                {
                    walk(root, &path, out)?;
                }
            } else if name.ends_with(".rs") {
                let rel = path.strip_prefix(root).map_err(|e| e.to_string())?;
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for dir in CRATE_DIRS {
        let path = root.join(dir);
        if path.is_dir() {
            walk(root, &path, &mut out)?;
        }
    }
    out.sort();
    Ok(out)
}

/// One line of source split into its code (string and char literals blanked out) and its
/// comment text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Line {
    code: String,
    comment: String,
}

/// Splits Rust source into [`Line`]s: enough of a lexer to tell code from comments and
/// literals (nested block comments, raw strings, byte strings, chars versus lifetimes).
fn lex(text: &str) -> Vec<Line> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Code,
        Block(u32),
        Str,
        RawStr(usize),
    }
    let mut state = State::Code;
    let mut lines = Vec::new();
    for raw in text.lines() {
        let chars: Vec<char> = raw.chars().collect();
        let mut line = Line::default();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match state {
                State::Block(depth) => {
                    if c == '*' && next == Some('/') {
                        state = if depth == 1 {
                            State::Code
                        } else {
                            State::Block(depth - 1)
                        };
                        i += 2;
                    } else if c == '/' && next == Some('*') {
                        state = State::Block(depth + 1);
                        i += 2;
                    } else {
                        line.comment.push(c);
                        i += 1;
                    }
                }
                State::Str => {
                    if c == '\\' {
                        i += 2;
                    } else {
                        if c == '"' {
                            state = State::Code;
                            line.code.push('"');
                        }
                        i += 1;
                    }
                }
                State::RawStr(hashes) => {
                    let closes = c == '"'
                        && chars.len() >= i + 1 + hashes
                        && chars[i + 1..i + 1 + hashes].iter().all(|h| *h == '#');
                    if closes {
                        state = State::Code;
                        line.code.push('"');
                        i += 1 + hashes;
                    } else {
                        i += 1;
                    }
                }
                State::Code => {
                    if c == '/' && next == Some('/') {
                        line.comment.extend(&chars[i + 2..]);
                        break;
                    } else if c == '/' && next == Some('*') {
                        state = State::Block(1);
                        i += 2;
                    } else if c == '"' {
                        line.code.push('"');
                        state = State::Str;
                        i += 1;
                    } else if (c == 'r' || (c == 'b' && next == Some('r')))
                        && !prev_is_ident(&chars, i)
                        && let Some((hashes, skip)) = raw_string_start(&chars, i)
                    {
                        line.code.push('"');
                        state = State::RawStr(hashes);
                        i += skip;
                    } else if c == '\'' {
                        i += char_literal_len(&chars, i).unwrap_or_else(|| {
                            line.code.push('\'');
                            1
                        });
                    } else {
                        line.code.push(c);
                        i += 1;
                    }
                }
            }
        }
        lines.push(line);
    }
    lines
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// At `r"`, `r#"`, `br"`...: the number of `#` and how many characters open the literal.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i + if chars[i] == 'b' { 2 } else { 1 };
    let start = j;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some((j - start, j + 1 - i))
}

/// At a `'`: the length of a char literal starting here, or `None` for a lifetime or label.
fn char_literal_len(chars: &[char], i: usize) -> Option<usize> {
    match chars.get(i + 1)? {
        // The escaped character never closes the literal: `'\''`, `'\\'`, `'\u{7f}'`.
        '\\' => {
            let close = chars.get(i + 3..)?.iter().position(|c| *c == '\'')?;
            Some(close + 4)
        }
        _ => (chars.get(i + 2) == Some(&'\'')).then_some(3),
    }
}

/// Whether `word` occurs in `code` as a whole identifier.
fn has_word(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

fn check_source(file: &str, text: &str, problems: &mut Vec<String>) {
    let lines = lex(text);
    for (n, line) in lines.iter().enumerate() {
        let at = format!("{file}:{}", n + 1);
        if has_word(&line.code, "unsafe") {
            if file != UNSAFE_HOME {
                problems.push(format!(
                    "{at}: `unsafe` outside {UNSAFE_HOME}; move the call there behind a safe \
                     wrapper"
                ));
            } else if !has_safety_comment(&lines, n) {
                problems.push(format!(
                    "{at}: `unsafe` without a `// SAFETY:` comment right above it (or a \
                     `# Safety` doc section for an `unsafe fn`); say why it is sound"
                ));
            }
        }
        for (needle, what) in [
            ("todo!", "`todo!`"),
            ("unimplemented!", "`unimplemented!`"),
            ("dbg!", "`dbg!`"),
        ] {
            if line
                .code
                .match_indices(needle)
                .any(|(i, _)| !prev_is_ident(&line.code.chars().collect::<Vec<_>>(), i))
            {
                problems.push(format!("{at}: {what}: finish the code or remove the call"));
            }
        }
        let attr: String = line.code.split_whitespace().collect();
        if attr.starts_with("#[ignore") {
            problems.push(format!(
                "{at}: `#[ignore]`: a test that never runs proves nothing; make it run, or give \
                 it a target of its own that a command runs"
            ));
        }
        if attr.starts_with("#[should_panic") {
            problems.push(format!(
                "{at}: `#[should_panic]`: assert the failure itself (a `Result`, or \
                 `catch_unwind` and the message), so a panic elsewhere cannot pass the test"
            ));
        }
    }
    if is_under_src(file) {
        let counted = counted_lines(text);
        if counted > MAX_LINES {
            problems.push(format!(
                "{file}: {counted} lines (its trailing test module not counted), over \
                 {MAX_LINES}: split it by job into a module folder"
            ));
        }
    }
}

/// Files under the line ceiling: those under a `src/` folder, but for a `tests.rs` there, which
/// is a `#[cfg(test)] mod tests` moved out of its parent file (the inline one is not counted
/// either).
fn is_under_src(file: &str) -> bool {
    file.split('/').any(|part| part == "src") && !file.ends_with("/tests.rs")
}

/// A `// SAFETY:` comment on the line of `unsafe` or in the comment lines right above it
/// (attributes and the lines of the same statement in between are allowed); for an
/// `unsafe fn`, a `# Safety` doc section does too.
fn has_safety_comment(lines: &[Line], n: usize) -> bool {
    let is_fn = has_word(&lines[n].code, "fn");
    let says = |l: &Line| {
        l.comment.contains("SAFETY:")
            || (is_fn
                && l.comment
                    .trim_start_matches(['/', '!'])
                    .trim_start()
                    .starts_with("# Safety"))
    };
    if says(&lines[n]) {
        return true;
    }
    // Walk up over the comment block above; also allow the `unsafe` to sit a few lines into a
    // statement whose first line the comment precedes (`let x =\n    unsafe { .. }`).
    let mut code_lines_skipped = 0;
    for line in lines[..n].iter().rev() {
        let code = line.code.trim();
        if says(line) {
            return true;
        }
        if code.is_empty() && !line.comment.is_empty() {
            continue;
        }
        if code.starts_with("#[") || code.starts_with("#![") {
            continue;
        }
        if code.is_empty() || code.ends_with(';') || code.ends_with('}') {
            return false;
        }
        code_lines_skipped += 1;
        if code_lines_skipped > 3 {
            return false;
        }
    }
    false
}

/// Lines that count against [`MAX_LINES`]: all of them, minus a `#[cfg(test)] mod NAME {..}`
/// that runs from its attribute to the end of the file.
fn counted_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    let Some(last) = last else { return 0 };
    if lines[last] != "}" {
        return lines.len();
    }
    for (i, line) in lines.iter().enumerate() {
        // Other attributes may sit between `#[cfg(test)]` and the `mod` line.
        let module = i
            + 1
            + lines[i + 1..]
                .iter()
                .take_while(|l| l.starts_with("#["))
                .count();
        if *line == "#[cfg(test)]"
            && let Some(next) = lines.get(module)
            && next.starts_with("mod ")
            && next.ends_with('{')
            && closing_brace(&lines[module..]) == Some(last - module)
        {
            return i;
        }
    }
    lines.len()
}

/// The index (into `lines`) of the line that closes the block opened on `lines[0]`.
fn closing_brace(lines: &[&str]) -> Option<usize> {
    let mut depth = 0i64;
    for (i, line) in lex(&lines.join("\n")).iter().enumerate() {
        for c in line.code.chars() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// Each crate folder's section of ARCHITECTURE.md: the text from a `###` heading that names
/// the folder (`` `core/` ``) to the next heading.
fn sections(architecture: &str) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<&'static str> = None;
    for line in architecture.lines() {
        if line.starts_with('#') {
            current = CRATE_DIRS
                .iter()
                .copied()
                .find(|dir| line.starts_with("### ") && line.contains(&format!("`{dir}/`")));
            continue;
        }
        if let Some(dir) = current {
            let text: &mut String = out.entry(dir).or_default();
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

/// Every source file is named in its crate's section of ARCHITECTURE.md: by its path in the
/// crate (`tests/engine.rs`), its path under `src/` (`wire/vxlan.rs`), its file name when no
/// other file of the crate shares it (`fdb.rs`), or, for a `mod.rs`, its folder
/// (`tests/common/`). A crate's `lib.rs` and `main.rs` are the crate itself.
fn check_named(files: &[String], architecture: &str, problems: &mut Vec<String>) {
    let sections = sections(architecture);
    for dir in CRATE_DIRS {
        let in_crate: Vec<&str> = files
            .iter()
            .filter_map(|f| f.strip_prefix(&format!("{dir}/")))
            .collect();
        if in_crate.is_empty() {
            continue;
        }
        let Some(section) = sections.get(dir) else {
            problems.push(format!(
                "ARCHITECTURE.md has no `### \\`{dir}/\\`` section for the crate in {dir}/"
            ));
            continue;
        };
        for rel in &in_crate {
            if matches!(*rel, "src/lib.rs" | "src/main.rs") {
                continue;
            }
            let name = rel.rsplit('/').next().unwrap_or(rel);
            let under_src = rel.strip_prefix("src/");
            let unique_name = in_crate
                .iter()
                .filter(|other| other.rsplit('/').next() == Some(name))
                .count()
                == 1;
            let mut names = vec![rel.to_string()];
            names.extend(under_src.map(String::from));
            if unique_name && name != "mod.rs" {
                names.push(name.to_string());
            }
            if let Some(folder) = rel.strip_suffix("mod.rs") {
                names.push(folder.to_string());
                names.extend(folder.strip_prefix("src/").map(String::from));
            }
            let named = names.iter().any(|n| mentions(section, n));
            if !named {
                problems.push(format!(
                    "{dir}/{rel} is not named in ARCHITECTURE.md's `{dir}/` section: say what it \
                     holds (as `{}`)",
                    under_src.unwrap_or(rel)
                ));
            }
        }
    }
}

/// `text` names `path` as a whole path (not as the tail of a longer one).
fn mentions(text: &str, path: &str) -> bool {
    text.match_indices(path).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '/' || c == '-')
    })
}

/// Every `tests/*.rs` target of a workspace crate is run by some suite of `cargo xtask test`
/// (or is listed in [`NOT_IN_A_SUITE`] with the command that runs it).
fn check_test_targets(files: &[String], problems: &mut Vec<String>) {
    for file in files {
        let parts: Vec<&str> = file.split('/').collect();
        let [dir, "tests", name] = parts[..] else {
            continue;
        };
        if dir == "fuzz" {
            continue;
        }
        let Some(target) = name.strip_suffix(".rs") else {
            continue;
        };
        let package = package_of(dir);
        if NOT_IN_A_SUITE
            .iter()
            .any(|(d, t, _)| *d == dir && *t == target)
        {
            continue;
        }
        let covered = suites::SUITES
            .iter()
            .flat_map(|s| s.steps)
            .any(|step| step_runs_test(step.program, &step.args(), package, target));
        if !covered {
            problems.push(format!(
                "{file}: test target `{target}` of {package} runs in no suite: add it to a suite \
                 in xtask/src/suites.rs"
            ));
        }
    }
}

/// The package name of a crate folder (the folder names differ from the package names).
fn package_of(dir: &str) -> &str {
    match dir {
        "core" => "vtep-core",
        "sim" => "vtep-sim",
        "web" => "vtep-web",
        "evpn" => "vtep-evpn",
        other => other,
    }
}

/// Whether `program args` runs integration test `target` of `package`.
fn step_runs_test(program: &str, args: &[&str], package: &str, target: &str) -> bool {
    if program != "cargo" || args.first() != Some(&"test") {
        return false;
    }
    let pair = |flag: &str, value: &str| args.windows(2).any(|w| w[0] == flag && w[1] == value);
    let selects_package = pair("-p", package)
        || pair("--package", package)
        || (args.contains(&"--workspace") && !pair("--exclude", package));
    let filters_targets = args
        .iter()
        .any(|a| matches!(*a, "--test" | "--lib" | "--bins" | "--bin" | "--doc"));
    selects_package && (!filters_targets || pair("--test", target) || args.contains(&"--tests"))
}

/// Every file in `fuzz/fuzz_targets/` is a `[[bin]]` of the fuzz crate and a target of
/// `cargo xtask fuzz` (which the `fuzz` suite runs).
fn check_fuzz_targets(files: &[String], manifest: &str, problems: &mut Vec<String>) {
    for file in files {
        let Some(target) = file
            .strip_prefix("fuzz/fuzz_targets/")
            .and_then(|f| f.strip_suffix(".rs"))
        else {
            continue;
        };
        if !manifest.contains(&format!("path = \"fuzz_targets/{target}.rs\"")) {
            problems.push(format!(
                "{file}: no `[[bin]]` with this path in fuzz/Cargo.toml: add one named `{target}`"
            ));
        }
        if !fuzz::TARGETS.iter().any(|t| t.name == target) {
            problems.push(format!(
                "{file}: `{target}` is not in xtask/src/fuzz.rs's TARGETS, so `cargo xtask fuzz` \
                 never runs it: add it"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(file: &str, text: &str) -> Vec<String> {
        let mut problems = Vec::new();
        check_source(file, text, &mut problems);
        problems
    }

    #[test]
    fn the_lexer_tells_code_from_comments_and_literals() {
        let lines = lex(concat!(
            "let a = \"unsafe { }\"; // unsafe here is a comment\n",
            "let b = r#\"todo!() \"quoted\" \"#; let c = '\\'';\n",
            "/* outer /* nested unsafe */ still comment */ fn f<'a>(x: &'a u8) {}\n",
            "let d = b'x'; let e = br\"dbg!(x)\";\n",
        ));
        assert_eq!(lines[0].code, "let a = \"\"; ");
        assert_eq!(lines[0].comment, " unsafe here is a comment");
        assert_eq!(lines[1].code, "let b = \"\"; let c = ;");
        assert!(lines[2].code.contains("fn f<'a>(x: &'a u8) {}"));
        assert!(lines[2].comment.contains("nested unsafe"));
        assert_eq!(lines[3].code, "let d = b; let e = \"\";");
    }

    #[test]
    fn unsafe_is_caught_outside_its_home_and_without_a_safety_comment() {
        let code = "fn f() {\n    unsafe { g() }\n}\n";
        let p = problems_of("core/src/x.rs", code);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("core/src/x.rs:2: `unsafe` outside"),
            "{p:?}"
        );

        let p = problems_of(UNSAFE_HOME, code);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("without a `// SAFETY:` comment"), "{p:?}");

        let commented = "fn f() {\n    // SAFETY: g has no preconditions.\n    unsafe { g() }\n}\n";
        assert_eq!(problems_of(UNSAFE_HOME, commented), Vec::<String>::new());
        let statement = "fn f() {\n    // SAFETY: fine.\n    let n =\n        unsafe { g() };\n}\n";
        assert_eq!(problems_of(UNSAFE_HOME, statement), Vec::<String>::new());
        let doc = "/// Does it.\n///\n/// # Safety\n/// `p` is valid.\npub unsafe fn f(p: *const u8) {}\n";
        assert_eq!(problems_of(UNSAFE_HOME, doc), Vec::<String>::new());
        // A SAFETY comment of an earlier statement does not cover this one.
        let earlier = "// SAFETY: fine.\nunsafe { a() };\nlet x = 1;\nunsafe { b() };\n";
        assert_eq!(problems_of(UNSAFE_HOME, earlier).len(), 1);
        // Names that contain the word are not the keyword.
        let lint = "#![deny(unsafe_code)]\n#![deny(unsafe_op_in_unsafe_fn)]\n";
        assert_eq!(problems_of("core/src/lib.rs", lint), Vec::<String>::new());
    }

    #[test]
    fn unfinished_code_and_tests_that_never_fail_are_caught() {
        let code = concat!(
            "fn a() { todo!() }\n",
            "fn b() { unimplemented!(\"x\") }\n",
            "fn c() { dbg!(1); }\n",
            "#[ignore]\nfn d() {}\n",
            "#[should_panic(expected = \"x\")]\nfn e() {}\n",
            "fn f() { let s = \"todo!() in a string is fine\"; } // so is dbg!() here\n",
            "fn g() { my_todo!() }\n",
        );
        let p = problems_of("sim/src/a.rs", code);
        let lines: Vec<&str> = p.iter().map(|p| p.split(' ').next().unwrap()).collect();
        assert_eq!(
            lines,
            [
                "sim/src/a.rs:1:",
                "sim/src/a.rs:2:",
                "sim/src/a.rs:3:",
                "sim/src/a.rs:4:",
                "sim/src/a.rs:6:"
            ]
        );
    }

    #[test]
    fn the_line_ceiling_skips_only_a_trailing_test_module() {
        let body = "fn f() {}\n".repeat(MAX_LINES);
        let tests = "#[cfg(test)]\n#[allow(x)]\nmod tests {\n    #[test]\n    fn t() {\n    }\n}\n";
        assert_eq!(counted_lines(&format!("{body}{tests}")), MAX_LINES);
        assert!(problems_of("web/src/a.rs", &format!("{body}{tests}")).is_empty());
        // One line more is over, and a test module that is not last counts in full.
        let over = format!("{body}fn g() {{}}\n{tests}");
        assert_eq!(problems_of("web/src/a.rs", &over).len(), 1);
        let middle = format!("{tests}{body}");
        assert_eq!(counted_lines(&middle), MAX_LINES + 7);
        // Tests and benches are not under the ceiling, nor a test module in a file of its own.
        assert!(problems_of("web/tests/a.rs", &format!("{body}{body}")).is_empty());
        assert!(problems_of("core/src/wire/tests.rs", &format!("{body}{body}")).is_empty());
    }

    #[test]
    fn a_file_missing_from_its_architecture_section_is_named() {
        let files: Vec<String> = [
            "core/src/lib.rs",
            "core/src/fdb.rs",
            "core/src/wire/vxlan.rs",
            "core/src/vtep/config.rs",
            "core/tests/common/mod.rs",
            "native-vtep/src/config.rs",
            "native-vtep/src/main.rs",
        ]
        .map(String::from)
        .to_vec();
        let doc = "# Architecture\n### `core/` — vtep-core\n`fdb.rs`, `wire/vxlan.rs`, \
                   `tests/common/`\n### `native-vtep/`\n`config.rs`: flags over TOML\n";
        let mut problems = Vec::new();
        check_named(&files, doc, &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("core/src/vtep/config.rs is not named"));
        // The bare name in another crate's section does not count; a longer path that merely
        // ends in the name does not either.
        let doc = "### `core/`\n`fdb.rs` `wire/vxlan.rs` `tests/common/` `myvtep/config.rs`\n\
                   ### `native-vtep/`\n`config.rs`\n";
        let mut problems = Vec::new();
        check_named(&files, doc, &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn test_targets_must_run_in_a_suite() {
        let args = ["test", "--workspace", "--exclude", "native-vtep"];
        assert!(step_runs_test("cargo", &args, "vtep-core", "engine"));
        assert!(!step_runs_test("cargo", &args, "native-vtep", "interop"));
        let args = ["test", "-p", "native-vtep", "--lib", "--test", "errors"];
        assert!(step_runs_test("cargo", &args, "native-vtep", "errors"));
        assert!(!step_runs_test("cargo", &args, "native-vtep", "hostile"));
        assert!(!step_runs_test(
            "wasm-pack",
            &["test"],
            "vtep-core",
            "browser"
        ));
    }
}
