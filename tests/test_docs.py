"""README.md and docs/ stay true: links resolve, code blocks parse and import what exists, CI runs the README's commands."""

import ast
import importlib
import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _blocks(page: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text()) if lang == language]


def _slug(heading: str) -> str:
    """The anchor python-markdown's toc extension (mkdocs) gives a heading."""
    text = re.sub(r"[`*]", "", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)} | set(re.findall(r'<a id="([^"]+)"', text))


def test_the_readme_is_a_short_entry_point():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # an external address
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: link to a missing file {target}"
        if anchor:
            assert anchor in _anchors(resolved), f"{page.name}: no heading for the anchor in {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_parse_and_their_noiseaug_imports_exist(page):
    for block in _blocks(page, "python"):
        tree = ast.parse(block)  # a SyntaxError fails the test
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("noiseaug"):
                try:
                    module = importlib.import_module(node.module)
                except ImportError as error:  # only an optional host library (torchvision) that is not installed
                    missing = error if isinstance(error, ModuleNotFoundError) else error.__cause__
                    assert isinstance(missing, ModuleNotFoundError) and missing.name, error
                    assert not missing.name.startswith("noiseaug"), error
                    continue
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{page.name}: {node.module} has no {alias.name}"


def test_ci_runs_the_readmes_set_up_check_and_test_commands_verbatim():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Tests and checks", 1)[1]
    commands = [line.split("  #")[0].strip() for line in _blocks_of(section) if line.strip()]
    assert commands[0].startswith("pip install") and commands[-1] == "pytest"
    ci = (ROOT / ".ci" / "run").read_text()
    for command in commands:
        runs = re.compile(rf"(^|\s){re.escape(command)}(\s|$)")
        assert any(runs.search(line) for line in ci.splitlines() if not line.lstrip().startswith("#")), command


def _blocks_of(text: str) -> list[str]:
    return FENCE.search(text).group(2).splitlines()


def test_every_api_page_documents_existing_modules_and_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = sorted((ROOT / "docs" / "api").glob("*.md"))
    assert pages
    for page in pages:
        assert f"api/{page.name}" in nav, f"{page.name} is not in mkdocs.yml's nav"
        modules = re.findall(r"^::: ([\w.]+)$", page.read_text(), re.M)
        assert modules, f"{page.name} documents no module"
        for module in modules:
            path = ROOT.joinpath(*module.split("."))
            assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), f"{page.name}: no {module}"
