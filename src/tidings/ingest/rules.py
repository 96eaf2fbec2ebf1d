"""Per-site extraction rules, like Miniflux's scraper rules: CSS selectors set by the owner."""

from __future__ import annotations

from dataclasses import dataclass, field

from cssselect import SelectorError
from lxml.cssselect import CSSSelector
from lxml.html import HtmlElement

from tidings.errors import InvalidInputError
from tidings.ingest.dom import select

MAX_SELECTOR_CHARS = 500


@dataclass(frozen=True)
class ExtractionRules:
    """A CSS selector for the article body, and selectors of elements to remove first."""

    body_selector: str | None = None
    remove_selectors: tuple[str, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.body_selector or self.remove_selectors)


def compile_selector(selector: str) -> CSSSelector:
    """A compiled CSS selector, or InvalidInputError saying what is wrong with it."""
    text = selector.strip()
    if not text:
        raise InvalidInputError("a CSS selector cannot be empty")
    if len(text) > MAX_SELECTOR_CHARS:
        raise InvalidInputError(f"a CSS selector is limited to {MAX_SELECTOR_CHARS} characters")
    try:
        return CSSSelector(text)
    except SelectorError as error:
        raise InvalidInputError(f"invalid CSS selector {text!r}: {error}") from error


def make_rules(
    body_selector: str | None, remove_selectors: list[str] | tuple[str, ...]
) -> ExtractionRules:
    """Validated rules from user input (blank values mean no rule)."""
    body = (body_selector or "").strip() or None
    removes = tuple(s.strip() for s in remove_selectors if s and s.strip())
    for selector in ([body] if body else []) + list(removes):
        compile_selector(selector)
    return ExtractionRules(body, removes)


def remove_matching(tree: HtmlElement, rules: ExtractionRules) -> None:
    for selector in rules.remove_selectors:
        for element in select(compile_selector(selector), tree):
            element.drop_tree()


def body_elements(tree: HtmlElement, rules: ExtractionRules) -> list[HtmlElement]:
    """The elements the body selector picks (outermost only), or [] when it picks none."""
    if not rules.body_selector:
        return []
    found = select(compile_selector(rules.body_selector), tree)
    return [element for element in found if not any(a in found for a in element.iterancestors())]
