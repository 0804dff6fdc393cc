"""Markdown of charts and catalogs (descriptions, post-install notes) rendered to safe HTML.

``markdown-it-py`` (CommonMark) with raw HTML disabled: any ``<tag>`` in the text is escaped, never
interpreted, and links keep only the schemes markdown-it's ``validateLink`` allows (``javascript:``,
``vbscript:``, ``file:`` and non-image ``data:`` URLs are dropped). Links open in a new tab with
``rel="noopener noreferrer"``. Tables and strikethrough (GFM) are enabled, as Onyxia's renderer shows them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])

    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        # bound as a method of the renderer by add_render_rule
        tokens[idx].attrSet("target", "_blank")
        tokens[idx].attrSet("rel", "noopener noreferrer")
        return str(renderer.renderToken(tokens, idx, options, env))

    parser.add_render_rule("link_open", link_open)
    return parser


def render_markdown(text: str | None) -> Markup:
    """``text`` (CommonMark) as sanitised HTML; empty markup for None or blank text."""
    if not text or not text.strip():
        return Markup("")
    return Markup(_parser().render(text))  # noqa: S704 - raw HTML is disabled in the parser: the output is safe
