"""Every code example in README.md and in the guides under docs/ runs, and shows what brickwork prints.

The conventions, which every page follows (and which this file checks):

* The ```python blocks of a page run top to bottom in one namespace, in one fresh Python process
  whose working directory is an empty scratch folder, as a reader pasting them into one session
  would run them. Each page that has them says so near its top ("The examples on this page run
  top to bottom in one session").
* A ```python block whose first line starts with ``>>>`` is an interactive session: it is checked
  like a doctest (ELLIPSIS and NORMALIZE_WHITESPACE: ``...`` stands for any text).
* Any other ```python block is a script. When a ```text block follows it directly (nothing but
  blank lines between), that block is what the script prints, checked with the same rules.
  Output is never shown in comments (``print(x)  # 3``): it is shown where it can be checked.
* A ```text block right after the line ``<!-- output of: COMMAND -->`` is what that command prints to
  stdout. A ``python ...`` command is run here and its output checked with the same rules; any other
  (``mpiexec ...``) is run and checked by the test that FILE_BLOCKS names for that page.
* A ```python block with a title (```python title="train.py") is a file the reader saves, not
  code to paste: it is written into the scratch folder under that name (so later blocks may run or
  import it), and a test elsewhere runs it the way the page says (FILE_BLOCKS below names that test).
* Everything that cannot run here (shell commands, mpiexec, a GPU) is in ```bash, ```console or
  ```text blocks, never in a ```python block that would be skipped.
* The API reference pages (docs/reference/) hold no code blocks: their examples are the docstrings,
  run by the doctests of src/.

Run one page by hand: ``python tests/test_docs_examples.py docs/guides/tensors.md`` (in a scratch folder of
its own, removed afterwards).
"""

from __future__ import annotations

import contextlib
import dataclasses
import doctest
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SESSION_NOTE = "The examples on this page run top to bottom in one session"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# file blocks (```python title="...") and the test that runs each one as its page describes
FILE_BLOCKS = {
    ("docs/guides/distributed.md", "train.py"): "tests/distributed/test_docs_script.py",
    ("docs/guides/dropin.md", "classify.py"): "tests/test_docs_examples.py",  # test_command_prints_...
}

COMMAND = re.compile(r"^<!-- output of: (?P<command>.+?) -->$")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)(?P<attrs>[^`\n]*)$")


@dataclasses.dataclass
class Block:
    page: str
    line: int  # 1-based line of the first line of code (after the opening fence)
    lang: str
    title: str | None
    code: str
    output: str | None = None  # the ```text block that follows a script block
    command: str | None = None  # for a ```text block: the command whose output it shows

    @property
    def kind(self) -> str:
        if self.lang == "pycon" or (self.lang == "python" and self.code.lstrip().startswith(">>>")):
            return "session"
        if self.lang == "python":
            return "file" if self.title else "script"
        return "other"

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def parse(path: Path) -> list[Block]:
    """The fenced blocks of a markdown page, in order, with each script's shown output attached."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    ends: list[int] = []  # line index of each block's closing fence
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = m["indent"], m["fence"]
        title = re.search(r'title="([^"]+)"', m["attrs"])
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence[0] * len(fence))
                                      and set(lines[j].strip()) == {fence[0]}):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        if j == len(lines):
            raise AssertionError(f"{rel(path)}:{i + 1}: code fence never closed")
        block = Block(rel(path), i + 2, m["lang"].lower(), title and title[1], "\n".join(body) + "\n")
        command = COMMAND.match(lines[i - 1].strip()) if i else None
        if command and block.lang == "text":
            block.command = command["command"]
        blocks.append(block)
        ends.append(j)
        i = j + 1
    for k in range(len(blocks) - 1):
        between = lines[ends[k] + 1:blocks[k + 1].line - 2]
        adjacent = not any(s.strip() for s in between)
        if blocks[k].kind == "script" and blocks[k + 1].lang == "text" and adjacent:
            blocks[k].output = blocks[k + 1].code
    return blocks


# -- running one page (in its own process: python tests/test_docs_examples.py PAGE) -----------------


class ExampleFailure(Exception):
    pass


def _compile(block: Block) -> object:
    # pad with blank lines so that tracebacks point at the page's own line numbers
    return compile("\n" * (block.line - 1) + block.code, block.page, "exec")


def _check_output(block: Block, got: str) -> None:
    checker = doctest.OutputChecker()
    if not checker.check_output(block.output, got, FLAGS):
        diff = checker.output_difference(doctest.Example("", block.output), got, FLAGS)
        raise ExampleFailure(f"{block.where}: the block prints something else than the page shows.\n{diff}")


def _run_script(block: Block, namespace: dict) -> None:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            exec(_compile(block), namespace)  # noqa: S102 - our own documentation
    except Exception as exc:
        import traceback

        raise ExampleFailure(f"{block.where}: the block raised\n{traceback.format_exc()}") from exc
    if block.output is not None:
        _check_output(block, out.getvalue())


def _run_session(block: Block, namespace: dict) -> None:
    parser = doctest.DocTestParser()
    test = doctest.DocTest(parser.get_examples(block.code), namespace, block.where, block.page,
                           block.line - 1, block.code)
    runner = doctest.DocTestRunner(optionflags=FLAGS | doctest.REPORT_ONLY_FIRST_FAILURE)
    report = io.StringIO()
    with contextlib.redirect_stderr(io.StringIO()):
        result = runner.run(test, out=report.write, clear_globs=False)
    namespace.update(test.globs)  # DocTest works on a copy of the namespace
    if result.failed:
        raise ExampleFailure(f"{block.where}: the session does not match what brickwork prints\n"
                             f"{report.getvalue()}")


def run_page(page: Path) -> int:
    """Run a page's python blocks in the current process and directory; the number of blocks run."""
    namespace: dict = {"__name__": "__main__"}
    count = 0
    for block in parse(page):
        if block.kind == "script":
            _run_script(block, namespace)
        elif block.kind == "session":
            _run_session(block, namespace)
        elif block.kind == "file":
            Path(block.title).write_text(block.code, encoding="utf-8")
        else:
            continue
        count += 1
    return count


def main(argv: list[str]) -> int:
    (page,) = argv
    path, cwd = Path(page).resolve(), os.getcwd()
    with tempfile.TemporaryDirectory(prefix="brickwork-docs-") as scratch:
        os.chdir(scratch)  # the files the examples write never land in the checkout
        try:
            count = run_page(path)
        except ExampleFailure as failure:
            print(failure, file=sys.stderr)
            return 1
        finally:
            os.chdir(cwd)
    print(f"{count} blocks ran")
    return 0


# -- the tests -------------------------------------------------------------------------------------


PAGES = {rel(p): p for p in pages()}
RUNNABLE = {name: p for name, p in PAGES.items() if any(b.kind != "other" for b in parse(p))}


COMMANDS = {b.where: b for p in PAGES.values() for b in parse(p) if b.command}


def _user_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("BRICKWORK_TEST_FAKE_CUPY", None)  # the pages run as a user runs them
    env["COLUMNS"] = "80"  # argparse wraps help text to the terminal's width
    return env


@pytest.mark.parametrize("name", sorted(RUNNABLE))
def test_page_examples_run_and_print_what_the_page_shows(name, tmp_path):
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(RUNNABLE[name])], cwd=tmp_path,
                          env=_user_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{name}:\n{done.stderr}{done.stdout}"


@pytest.mark.parametrize("where", sorted(COMMANDS))
def test_command_prints_what_the_page_shows(where, tmp_path):
    block = COMMANDS[where]
    if not block.command.startswith("python "):
        tests = [ROOT / t for (page, _), t in FILE_BLOCKS.items() if page == block.page]
        assert any(block.command in t.read_text(encoding="utf-8") for t in tests), \
            f"{where}: nobody runs {block.command!r}; name its test in FILE_BLOCKS"
        return
    for other in parse(ROOT / block.page):  # the page's files, e.g. the script the command runs
        if other.kind == "file":
            (tmp_path / other.title).write_text(other.code, encoding="utf-8")
    if block.command not in _command_stdout:  # the demo is shown on two pages: run it once
        argv = [sys.executable, *shlex.split(block.command)[1:]]
        done = subprocess.run(argv, cwd=tmp_path, env=_user_env(), capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"{block.command}:\n{done.stderr}"
        _command_stdout[block.command] = done.stdout
    block.output = block.code
    _check_output(block, _command_stdout[block.command])


_command_stdout: dict[str, str] = {}


def test_the_pages_that_must_have_examples_have_them():
    must = ["README.md", *(f"docs/guides/{n}.md" for n in (
        "tensors", "modules", "lazy", "custom-layers", "files", "devices", "training", "data",
        "dropin", "differences"))]
    missing = [name for name in must if name not in RUNNABLE]
    assert not missing, f"pages without a runnable example: {missing}"


@pytest.mark.parametrize("name", sorted(RUNNABLE))
def test_page_says_its_examples_share_one_session(name):
    text = PAGES[name].read_text(encoding="utf-8")
    first = min(text.index(f"```{lang}") for lang in ("python", "pycon") if f"```{lang}" in text)
    assert SESSION_NOTE in text[:first], f"{name}: say {SESSION_NOTE!r} before its first example"


# a comment that reads like a printed value: `print(x)  # True`, `y = f(x)  # tensor([1., 2.])`
VALUE_IN_COMMENT = re.compile(r"#\s*(tensor\(|brickwork\.|torch\.|True|False|None|[\[({'\"<]|-?\d)")
SHOWN_IN_COMMENT = re.compile(r"\S.*#\s*(tensor\(|brickwork\.Size|torch\.Size)")


@pytest.mark.parametrize("name", sorted(PAGES))
def test_output_is_shown_where_it_is_checked(name):
    # printed values in comments were never checked (the README once showed `(256, 20) True`
    # where brickwork prints `brickwork.Size([256, 20]) True`)
    bad = []
    for block in parse(PAGES[name]):
        if block.kind != "script":
            continue
        for k, line in enumerate(block.code.split("\n")):
            if SHOWN_IN_COMMENT.search(line) or (re.search(r"\bprint\(.*\)\s*#", line)
                                                 and VALUE_IN_COMMENT.search(line)):
                bad.append(f"{block.page}:{block.line + k}: {line.strip()}")
    assert not bad, "show output in a ```text block after the script, or as a >>> session:\n" + "\n".join(bad)


def test_file_blocks_are_run_by_a_named_test():
    found = {(b.page, b.title) for p in PAGES.values() for b in parse(p) if b.kind == "file"}
    unknown = found - FILE_BLOCKS.keys()
    assert not unknown, f"file blocks nobody runs: {sorted(unknown)}; add the test to FILE_BLOCKS"
    for (page, title), test in FILE_BLOCKS.items():
        assert (page, title) in found, f"{page} has no file block {title!r} any more"
        source = (ROOT / test).read_text(encoding="utf-8")
        assert page in source and title in source, f"{test} does not run {title} of {page}"


def test_reference_pages_hold_no_code_blocks():
    with_blocks = [rel(p) for p in (DOCS / "reference").rglob("*.md") if parse(p)]
    assert not with_blocks, with_blocks


def test_text_blocks_after_scripts_are_outputs(tmp_path, monkeypatch):
    # the conventions, on a page of their own
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "probe.md"
    page.write_text("a\n\n```python\nprint(1)\n```\n\n```text\n1\n```\n\nb\n\n```python\nx = 2\n```\n"
                    "\nprose\n\n```text\nnot output\n```\n", encoding="utf-8")
    first, shown, second, _ = parse(page)
    assert first.output == "1\n" and second.output is None and shown.lang == "text"
    assert run_page(page) == 2
    page.write_text("```python\nprint(2)\n```\n```text\n3\n```\n", encoding="utf-8")
    with pytest.raises(ExampleFailure, match="prints something else"):
        run_page(page)
    page.write_text("```python\n>>> 1 + 1\n3\n```\n", encoding="utf-8")
    with pytest.raises(ExampleFailure, match="does not match"):
        run_page(page)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
