"""Copy-paste download commands for one block of files (docs/design/index.md#what-the-site-publishes), one variant
per tool.

Each variant fetches the block's files into the current folder, resuming a broken download,
and ends with an `md5sum -c` of exactly those files, so that it checks nothing else lying in
the folder. A file whose URL or md5 is not certain is left out, with a comment saying why.
The text goes into a fenced block, where Markdown escapes HTML; names and URLs are
shell-quoted, and the lines read by `md5sum` and `aria2c` are the plain values.
"""
from __future__ import annotations

import shlex

from generator.site.model import DownloadBlock, PageRow

# Tab labels, in the order the tabs appear.
TOOLS = ("curl", "wget", "aria2c", "laion2b")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _known(value: str | None) -> str:
    """The URL or md5 of a row ready to fetch (DownloadBlock.ready): never None."""
    assert value is not None, "a row ready to fetch has its URL and md5"
    return value


def _left_out(block: DownloadBlock) -> list[str]:
    return [f"# {_one_line(row.name)} is left out ({_one_line(_known(row.left_out))})" for row in block.left_out]


def md5_check(rows: tuple[PageRow, ...]) -> list[str]:
    """`md5sum -c` of exactly `rows`, as `md5sum` prints their lines."""
    return ["md5sum -c <<'END_OF_MD5'", *(f"{row.md5}  {row.name}" for row in rows), "END_OF_MD5"]


# Where a command's line is broken (`\` at its end, the next line indented): before a URL, so that
# no line is much wider than the URL itself and a block reads without sideways scrolling.
CONTINUATION = " \\\n  "


def _fetch_lines(tool: str, rows: tuple[PageRow, ...], index_url: str) -> list[str]:
    quote = shlex.quote
    if tool == "curl":  # -f: an HTTP error is a failure, not a saved error page; -C -: resume
        return [f"curl -fL --retry 5 -C - -o {quote(row.name)}{CONTINUATION}{quote(_known(row.url))}" for row in rows]
    if tool == "wget":
        return [f"wget -c -O {quote(row.name)}{CONTINUATION}{quote(_known(row.url))}" for row in rows]
    if tool == "aria2c":  # aria2c checks each md5 itself as well
        entries = [line for row in rows for line in (_known(row.url), f"  out={row.name}", f"  checksum=md5={row.md5}")]
        return ["aria2c -c --auto-file-renaming=false -i - <<'END_OF_LIST'", *entries, "END_OF_LIST"]
    if tool == "laion2b":
        names = [f"  {quote(row.name)}" for row in rows]
        lines = ["laion2b download --dir .", f"  --index {quote(index_url)}", *names]
        return [line + " \\" for line in lines[:-1]] + lines[-1:]
    raise ValueError(f"no commands for tool '{tool}'")


def block_commands(block: DownloadBlock, tool: str, index_url: str) -> str:
    """The command block of `tool` for `block` (which must have a file ready to fetch)."""
    ready = block.ready
    return "\n".join(_left_out(block) + _fetch_lines(tool, ready, index_url) + md5_check(ready))
