"""The download command blocks of a built datasets page, found through its content tabs."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommandBlock:
    """One code block: the section it is in ("By subset", "By group"), the labels of the tabs
    leading to it (subset, representation, tool; or group, tool), the paragraph that names its
    files, and its text."""

    section: str
    tabs: tuple[str, ...]
    summary: str
    text: str

    @property
    def tool(self) -> str:
        return self.tabs[-1]

    def md5_lines(self) -> list[str]:
        """The lines its `md5sum -c` checks."""
        return self.text.split("md5sum -c <<'END_OF_MD5'\n", 1)[1].split("END_OF_MD5", 1)[0].splitlines()

    def names(self) -> list[str]:
        """The files it downloads and checks."""
        return [line.split("  ", 1)[1] for line in self.md5_lines()]


def _walk(tabbed_set, section: str, path: tuple[str, ...], summary: str):
    labels = [label.get_text(strip=True) for label in tabbed_set.select(":scope > .tabbed-labels > label")]
    contents = tabbed_set.select(":scope > .tabbed-content > .tabbed-block")
    assert len(labels) == len(contents), path
    for label, content in zip(labels, contents):
        nested = content.select_one(":scope > .tabbed-set")
        if nested is not None:
            first = content.select_one(":scope > p")
            yield from _walk(nested, section, path + (label,), first.get_text(" ", strip=True) if first else summary)
        else:
            code = content.select_one("pre code")
            yield CommandBlock(section, path + (label,), summary, code.get_text() if code else "")


def _section(element) -> str:
    heading = element.find_previous("h2")
    return heading.get("id", "") if heading else ""


def command_blocks(soup) -> list[CommandBlock]:
    """Every block of the "Download commands" section, in page order."""
    blocks = []
    for tabbed_set in soup.select("article .tabbed-set"):
        if tabbed_set.find_parent(class_="tabbed-set") is not None or _section(tabbed_set) != "download-commands":
            continue
        heading = tabbed_set.find_previous("h3").get_text(strip=True).rstrip("¶")
        blocks += _walk(tabbed_set, heading, (), "")
    return blocks


def quick_start(soup, tool: str) -> list[str]:
    """The quick start's code blocks, in order, as a participant using `tool` (laion2b or curl)
    copies them: the tab of that tool where there are tabs, the plain block where there are none."""
    blocks = []
    for pre in soup.select("article pre"):
        if _section(pre) != "quick-start":
            continue
        block = pre.find_parent(class_="tabbed-block")
        if block is not None:
            tabbed_set = block.find_parent(class_="tabbed-set")
            labels = [label.get_text(strip=True) for label in tabbed_set.select(":scope > .tabbed-labels > label")]
            position = tabbed_set.select(":scope > .tabbed-content > .tabbed-block").index(block)
            if labels[position] != tool:
                continue
        blocks.append(pre.select_one("code").get_text())
    return blocks


def loading_examples(soup) -> dict[str, tuple[str, str]]:
    """Each group's loading example: the file it loads -> (its Python, its Julia)."""
    examples = {}
    for details in soup.select("article details.example"):
        name = details.select_one("summary code").get_text()
        python, julia = (code.get_text() for code in details.select("pre code"))
        examples[name] = (python, julia)
    return examples
