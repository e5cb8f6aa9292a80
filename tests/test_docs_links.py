"""The README and the pages under docs/: every relative link and picture points at a file that exists (and
an #anchor at a heading there), the README stays short and links every page, every page links back.
External http(s) links are not fetched."""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
PAGES = sorted((REPO / "docs").glob("*.md"))
README_MAX_LINES = 250

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans, where brackets are code, not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(text: str) -> list[str]:
    body = prose(text)
    return LINK.findall(body) + HTML_LINK.findall(body)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor in a Markdown file; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path) -> list[str]:
    """The relative links of a Markdown file that point at no file, or at no heading of their file."""
    broken = []
    for target in links(page.read_text()):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        if path.startswith("/"):
            broken.append(f"{target} (absolute; write it relative to {page.name})")
            continue
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no heading #{anchor} in {path or page.name})")
    return broken


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda page: str(page.relative_to(REPO)))
def test_every_relative_link_and_picture_resolves(page):
    assert links(page.read_text()), f"{page.name} links nothing: is the link pattern still right?"
    assert broken_links(page) == []


def test_the_readme_reads_in_two_minutes():
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into a page under docs/"


def test_the_readme_links_every_page_and_every_page_links_back():
    readme_targets = {target.partition("#")[0] for target in links(README.read_text())}
    assert PAGES, "no pages under docs/"
    for page in PAGES:
        assert f"docs/{page.name}" in readme_targets, f"README.md does not link docs/{page.name}"
        opening = "\n".join(page.read_text().splitlines()[:4])
        assert "](../README.md)" in opening, f"docs/{page.name} does not link back to the README at its top"


def test_broken_links_and_anchors_are_caught(tmp_path):
    (tmp_path / "there.md").write_text("# A heading: with `code`, punctuation & more\n\n## Again\n\n## Again\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#a-heading-with-code-punctuation--more) [ok](there.md#again-1)\n"
        "![ok](there.md) [web](https://example.org/nowhere) `[code](missing.md)`\n"
        "```\n[fenced](missing.md)\n```\n"
        "[gone](missing.md) ![gone](pics/missing.png) [bad anchor](there.md#nowhere) [self](#nowhere)\n")
    assert broken_links(page) == ["missing.md (no such file)", "pics/missing.png (no such file)",
                                  "there.md#nowhere (no heading #nowhere in there.md)",
                                  "#nowhere (no heading #nowhere in page.md)"]
