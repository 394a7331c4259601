"""Text blocks: Markdown rendered safely. Raw HTML in the text is escaped, never passed through,
and links may only be http(s), mailto or relative (markdown-it refuses javascript:, vbscript:,
file: and data: other than images), so a report's text cannot run script in the page, the run's
page or a mail client."""

from __future__ import annotations

from markdown_it import MarkdownIt

_RENDERER = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
    ["table", "strikethrough"])
_SAFE_SCHEMES = ("http://", "https://", "mailto:", "/", "#")


def _validate(url: str) -> bool:
    return url.strip().lower().startswith(_SAFE_SCHEMES)


_RENDERER.validateLink = _validate

MAX_TEXT = 20_000


def render(text: str) -> str:
    """HTML for ``text``: escaped, a safe subset (headings, emphasis, lists, links, code,
    tables, quotes)."""
    return _RENDERER.render(text[:MAX_TEXT])


def plain(text: str) -> str:
    """The text as it reads in the plain-text part of the e-mail: the Markdown itself."""
    return text[:MAX_TEXT].strip()
