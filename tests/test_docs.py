"""The documentation: every relative link and anchor resolves, and every block marked runnable runs.

Checked files: README.md, ARCHITECTURE.md and docs/*.md. A fenced block whose info string is
``sh runnable`` (or ``bash runnable``) runs with bash, ``python runnable`` with the venv's Python,
each in a fresh temporary folder with the venv's ``bin`` first on ``PATH``; it must exit 0. Mark
only blocks that need nothing but the packaged demo corpus and take a few seconds: ``make test``
runs them all.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNERS = {"sh": ["bash", "-e", "-o", "pipefail"], "bash": ["bash", "-e", "-o", "pipefail"], "python": [sys.executable]}
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
LINK = re.compile(r"(?<!\\)\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""<a\s[^>]*href=["']([^"']+)["']""", re.IGNORECASE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)   # http:, https:, mailto:, ...


def split_fences(text: str) -> tuple[list[str], list[tuple[str, int, str]]]:
    """The lines outside fenced code (fenced lines blanked, so line numbers hold) and the fenced
    blocks as ``(info string, first line number, body)``."""
    prose, blocks = [], []
    fence, info, start, body = None, "", 0, []
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, info, start, body = match.group(1), match.group(2).strip(), number, []
                prose.append("")
            else:
                prose.append(line)
        else:
            prose.append("")
            closes = match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence)
            if closes and not match.group(2).strip():
                blocks.append((info, start, "\n".join(body) + "\n"))
                fence = None
            else:
                body.append(line)
    if fence is not None:
        raise ValueError(f"a fenced block opened on line {start} is never closed")
    return prose, blocks


def strip_inline_markup(text: str) -> str:
    """A heading's rendered text: links become their text; code ticks, emphasis and HTML tags go."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "")
    text = re.sub(r"(\*{1,3}|(?<!\w)_{1,3}|_{1,3}(?!\w))", "", text)
    return text


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: lowercase, punctuation removed but ``-`` and ``_``,
    each space a ``-`` (github-slugger, which GitHub's renderer uses)."""
    text = strip_inline_markup(heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor GitHub makes for ``path``'s headings, duplicates numbered ``-1``, ``-2``, ..."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for line in prose:
        match = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    found.update(re.findall(r"""<a\s[^>]*(?:name|id)=["']([^"']+)["']""", "\n".join(prose), re.IGNORECASE))
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """``(line, target)`` of every link outside code: inline Markdown links and ``<a href>``."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    found = []
    for number, line in enumerate(prose, 1):
        line = re.sub(r"(`+).*?\1", "", line)   # inline code is not a link
        found += [(number, target) for target in LINK.findall(line) + HTML_LINK.findall(line)]
    return found


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, target in links(path):
        if EXTERNAL.match(target) or target.startswith("//"):
            continue
        file_part, _, anchor = target.partition("#")
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        destination = (path.parent / unquote(file_part)).resolve() if file_part else path
        if file_part.startswith("/"):
            problems.append(f"{where}: an absolute path; link relatively")
            continue
        if not destination.exists():
            problems.append(f"{where}: {destination} does not exist")
            continue
        if ROOT not in destination.parents and destination != ROOT:
            problems.append(f"{where}: leaves the repository")
            continue
        if anchor:
            if destination.suffix.lower() != ".md":
                problems.append(f"{where}: an anchor into a file that is not Markdown")
            elif unquote(anchor) not in anchors(destination):
                problems.append(f"{where}: no heading with anchor #{anchor} in {destination.relative_to(ROOT)}")
    return problems


def runnable_blocks() -> list[tuple[str, str, str]]:
    """``(id, language, body)`` of every block marked runnable."""
    found = []
    for path in DOCS:
        _, blocks = split_fences(path.read_text(encoding="utf-8"))
        for info, line, body in blocks:
            words = info.split()
            if "runnable" in words[1:]:
                found.append((f"{path.relative_to(ROOT)}:{line}", words[0], body))
    return found


# --- the slug and the parsers, so that the checks below can fail ---------------------------------

@pytest.mark.parametrize("heading, expected", [
    ("Two commands", "two-commands"),
    ("On a GPU", "on-a-gpu"),
    ("Trained clean vs trained with laundering (the laundering study's experiment)",
     "trained-clean-vs-trained-with-laundering-the-laundering-studys-experiment"),
    ("A bigger corpus: 7 speakers, 5 languages, 3 channels", "a-bigger-corpus-7-speakers-5-languages-3-channels"),
    ("`detector.launder`: the laundering chain", "detectorlaunder-the-laundering-chain"),
    ("load_detector and **predict**", "load_detector-and-predict"),
    ("GPUs — and several", "gpus--and-several"),
    ("[Linked](other.md) heading", "linked-heading"),
])
def test_slug_matches_github(heading, expected):
    assert slug(heading) == expected


def test_anchors_number_duplicates_and_ignore_code(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Notes\n\n```sh\n# not a heading\n```\n\n## Notes\n\n### Notes\n", encoding="utf-8")
    assert anchors(page) == {"title", "notes", "notes-1", "notes-2"}


def test_broken_links_are_found(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "other.md").write_text("# Other page\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n[ok](other.md#other-page) [ok](#page) [web](https://example.org/x#y)\n"
                    "`[code](nowhere.md)`\n"
                    "[no file](missing.md) [no anchor](other.md#nope) [no local anchor](#nope)\n\n"
                    "```md\n[in a block](missing-too.md)\n```\n", encoding="utf-8")
    problems = broken_links(page)
    assert len(problems) == 3, problems
    assert "missing.md" in problems[0] and "#nope" in problems[1] and "#nope" in problems[2]


def test_runnable_blocks_are_found(tmp_path):
    _, blocks = split_fences("text\n\n```sh runnable\necho hi\n```\n\n````python\nx = 1\n````\n")
    assert blocks == [("sh runnable", 3, "echo hi\n"), ("python", 7, "x = 1\n")]


# --- the documentation itself ---------------------------------------------------------------------

def test_docs_exist():
    names = {path.name for path in DOCS}
    for page in ("README.md", "getting-started.md", "corpora.md", "training.md", "evaluation.md", "laundering.md",
                 "ablation.md", "inference.md", "gpus.md", "reliability.md", "python-api.md", "benchmarks.md",
                 "development.md"):
        assert page in names, f"docs/{page} is missing"


@pytest.mark.parametrize("path", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_links_and_anchors_resolve(path):
    assert broken_links(path) == []


def test_readme_is_a_landing_page_with_the_ci_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    _, blocks = split_fences(readme)
    commands = [line.split("#")[0].strip() for _, _, body in blocks for line in body.splitlines()]
    # .ci/run runs the README's test command; make demo is the other one-line entry point.
    assert "make test" in commands and "make demo" in commands
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def run_block(language: str, body: str, folder: Path) -> subprocess.CompletedProcess:
    """Run one block's body in ``folder`` with the venv's ``bin`` first on ``PATH``."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               DETECTOR_CACHE=str(folder / "cache"), MPLBACKEND="Agg")
    script = folder / ("block.py" if language == "python" else "block.sh")
    script.write_text(body, encoding="utf-8")
    return subprocess.run([*RUNNERS[language], str(script)], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_failing_command_fails_its_block(tmp_path):
    assert run_block("sh", "false\ntrue\n", tmp_path).returncode != 0          # stops at the first failure
    assert run_block("sh", "false | true\n", tmp_path).returncode != 0          # pipefail
    assert run_block("sh", "detector --version\n", tmp_path).returncode == 0     # the venv's detector
    assert run_block("python", "raise SystemExit(3)\n", tmp_path).returncode == 3


@pytest.mark.parametrize("block", runnable_blocks(), ids=lambda block: block[0])
def test_runnable_block_exits_0(block, tmp_path):
    where, language, body = block
    assert language in RUNNERS, f"{where}: cannot run a {language!r} block (runnable: {', '.join(RUNNERS)})"
    run = run_block(language, body, tmp_path)
    assert run.returncode == 0, f"{where} exited {run.returncode}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
