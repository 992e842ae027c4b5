#!/usr/bin/env python3
"""Checks that the docs say what the programs do.

  check_docs.py SOURCE_DIR BIN_DIR

- Flags: every flag a program's --help lists appears in its README row
  (README "Command lines", and the canopyctl subcommand table), and every
  flag of the row is one --help lists; a default --help shows ([VALUE] or
  =VALUE) appears in the row too.
- Log lines: every line docs/operations.md quotes in its "Logs" table
  matches a format string of a spdlog call in controller/ or node/.

Prints one line per problem and exits 1 if there is any.
"""

import pathlib
import re
import subprocess
import sys

FLAG = re.compile(r"--[a-z][a-z0-9-]*")
# The programs whose README row is checked: (row prefix, argv for --help).
PROGRAMS = [
    "canopy-controller", "canopy-node", "canopy-pub", "canopy-sub", "canopy-send",
    "canopy-recv", "param_broadcast", "bench-planner", "bench-relay", "bench-chaos",
    "bench-steinlib", "bench-distribution", "bench-lan", "bench-weights", "bench-bulk-shapes",
    "bench-controller",
]
CANOPYCTL_SUBCOMMANDS = [
    ["nodes"], ["groups"], ["members"], ["tree"], ["top"], ["policy", "get"],
    ["policy", "set"], ["watch"], ["stats"], ["status"],
]
# Flags every program has, documented once for all (README "Command lines":
# --help, and --version with the build).
COMMON = {"--help", "--version"}


def readme_row(readme, prefix):
    """The README table row whose first cell starts with `prefix`."""
    for line in readme.splitlines():
        if line.startswith("| `" + prefix + " ") or line.startswith("| `" + prefix + "`"):
            return line
    return None


def help_text(binary, args):
    run = subprocess.run([str(binary), *args, "--help"], capture_output=True, text=True,
                         timeout=30)
    return run.stdout + run.stderr


def help_flags_and_defaults(text):
    """Flags of a CLI11 --help and, per flag, the default it shows."""
    flags, defaults = set(), {}
    for line in text.splitlines():
        m = re.match(r"\s+(?:-\w,)?(--[a-z][a-z0-9-]*)(.*)", line)
        if not m:
            continue
        flag, rest = m.group(1), m.group(2)
        flags.add(flag)
        d = re.search(r"\[([^\]]+)\]\s*$", rest) or re.search(r"=(\"[^\"]*\"|\S+)\s*$", rest)
        if d and not rest.strip().startswith("Excludes"):
            defaults[flag] = d.group(1).strip('"')
    # Flags only named in the text (e.g. "Excludes: --exclude") are flags too.
    return flags, defaults


def check_flags(readme, bin_dir, problems):
    for program in PROGRAMS:
        row = readme_row(readme, program)
        if row is None:
            problems.append(f"README: no row for {program}")
            continue
        flags, defaults = help_flags_and_defaults(help_text(bin_dir / program, []))
        compare(program, row, flags, defaults, problems)
    ctl_row = readme_row(readme, "canopyctl --controller")
    global_flags, _ = help_flags_and_defaults(help_text(bin_dir / "canopyctl", []))
    for sub in CANOPYCTL_SUBCOMMANDS:
        name = " ".join(sub)
        row = readme_row(readme, name)
        if row is None:
            problems.append(f"README: no canopyctl row for {name}")
            continue
        flags, defaults = help_flags_and_defaults(help_text(bin_dir / "canopyctl", sub))
        # The global flags (--controller, TLS) are in canopyctl's own row.
        compare(f"canopyctl {name}", row + (ctl_row or ""), flags, defaults, problems,
                optional=global_flags)


def compare(program, row, flags, defaults, problems, optional=frozenset()):
    documented = set(FLAG.findall(row))
    for flag in sorted(flags - COMMON - documented - set(optional)):
        problems.append(f"{program}: {flag} is in --help but not in its README row")
    for flag in sorted(documented - flags - COMMON - set(optional)):
        # A flag of another program mentioned in passing ("as for canopy-pub")
        # is allowed only in backquotes with its program's name.
        if re.search(r"`[a-z_-]+(?: [a-z_-]+)* " + re.escape(flag), row):
            continue
        problems.append(f"{program}: README row names {flag}, which --help does not list")
    for flag, value in sorted(defaults.items()):
        if flag in COMMON or flag in optional:
            continue
        if value not in row:
            problems.append(f"{program}: the default of {flag} ({value}) is not in its README row")


def log_formats(source_dir):
    """Format strings of spdlog calls (adjacent literals joined)."""
    formats = []
    call = re.compile(r"spdlog::(?:trace|debug|info|warn|error|critical)\(\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+)")
    for folder in ("controller", "node", "base", "ops", "wire"):
        for path in (source_dir / folder).rglob("*.cc"):
            text = path.read_text(encoding="utf-8")
            for m in call.finditer(text):
                parts = re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(1))
                fmt = "".join(parts)
                # "{}" or "{}: {}" would match any line: not evidence.
                if len(re.sub(r"[{}:\s]", "", fmt)) >= 8:
                    formats.append(fmt)
    return formats


def doc_log_lines(operations):
    """The quoted lines of the first column of the "## Logs" table."""
    section = operations.split("## Logs", 1)[1].split("\n## ", 1)[0]
    lines = []
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        first_cell = re.split(r"(?<!\\) \| ", row[2:], maxsplit=1)[0]
        lines.extend(re.findall(r"`([^`]+)`", first_cell))
    return lines


PLACEHOLDER = re.compile(r"\b[A-Z][A-Z0-9_]*\b|…")


def matches(doc_line, fmt):
    """Whether a documented line (placeholders in capitals, … for text left
    out) can be a line the format string prints."""
    # The code's {} stand for anything in the doc's sample...
    sample = PLACEHOLDER.sub("X", doc_line)
    code = "".join(".+" if p == "{}" else re.escape(p) for p in re.split(r"(\{\})", fmt))
    if re.fullmatch(code, sample):
        return True
    # ...or the doc's placeholders and … for anything the code prints.
    doc = "".join(".*" if PLACEHOLDER.fullmatch(p) else re.escape(p)
                  for p in re.split(r"(\b[A-Z][A-Z0-9_]*\b|…)", doc_line))
    return re.fullmatch(doc, fmt.replace("{}", "x")) is not None


def check_logs(source_dir, problems):
    operations = (source_dir / "docs" / "operations.md").read_text(encoding="utf-8")
    formats = log_formats(source_dir)
    lines = doc_log_lines(operations)
    if len(lines) < 10:
        problems.append(f"docs/operations.md: only {len(lines)} log lines found in ## Logs")
    for line in lines:
        if len(PLACEHOLDER.sub("", line).strip()) < 8:
            problems.append(f"docs/operations.md: `{line}` is too vague to check")
        elif not any(matches(line, fmt) for fmt in formats):
            problems.append(f"docs/operations.md quotes a log line no code prints: `{line}`")


def main():
    source_dir, bin_dir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    readme = (source_dir / "README.md").read_text(encoding="utf-8")
    problems = []
    check_flags(readme, bin_dir, problems)
    check_logs(source_dir, problems)
    for p in problems:
        print(p)
    print(f"check_docs: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
