"""Reading the report's HTML back in tests: tables by id, images, links, tag balance."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements that never have an end tag in HTML5.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


@dataclass
class Page:
    """What a report's HTML holds, parsed with the standard library's parser."""

    tables: dict = field(default_factory=dict)  # id -> list of rows of cell texts
    row_classes: dict = field(default_factory=dict)  # id -> class of each body row
    images: list = field(default_factory=list)  # attribute dicts of every <img>
    urls: list = field(default_factory=list)  # every src / href / action value
    ids: set = field(default_factory=set)
    tags: set = field(default_factory=set)
    text: str = ""
    errors: list = field(default_factory=list)  # unbalanced or misnested tags


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[str] = []
        self.table_ids: list[str | None] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.in_body = False
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.page.tags.add(tag)
        if "id" in attrs:
            self.page.ids.add(attrs["id"])
        for key in ("src", "href", "action", "srcset", "poster", "data"):
            if key in attrs:
                self.page.urls.append(attrs[key])
        if tag == "img":
            self.page.images.append(attrs)
        if tag == "table":
            self.table_ids.append(attrs.get("id"))
            if attrs.get("id"):
                self.page.tables[attrs["id"]] = []
                self.page.row_classes[attrs["id"]] = []
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr":
            self.row = []
            if self.in_body and self.table_ids and self.table_ids[-1]:
                self.page.row_classes[self.table_ids[-1]].append(attrs.get("class"))
        elif tag in ("td", "th"):
            self.cell = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.page.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else ''}>")
        else:
            self.stack.pop()
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            table_id = self.table_ids[-1] if self.table_ids else None
            if table_id:
                self.page.tables[table_id].append(self.row)
            self.row = None
        elif tag == "tbody":
            self.in_body = False
        elif tag == "table":
            self.table_ids.pop()

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        if not self.stack or self.stack[-1] not in ("style", "script"):
            self.texts.append(data)


def parse(document: str) -> Page:
    """Parse a report; ``errors`` lists tags left open or closed out of order."""
    parser = _Parser()
    parser.feed(document)
    parser.close()
    page = parser.page
    page.errors.extend(f"<{tag}> never closed" for tag in parser.stack)
    page.text = " ".join(" ".join(parser.texts).split())
    return page


def table_body(page: Page, table_id: str) -> list[list[str]]:
    """The body rows of the table with ``table_id`` (its first row is the header)."""
    return page.tables[table_id][1:]


def table_header(page: Page, table_id: str) -> list[str]:
    return page.tables[table_id][0]


def key_values(page: Page, table_id: str) -> dict[str, str]:
    """A two-column table as a dict."""
    return {row[0]: row[1] for row in page.tables[table_id]}


def image_bytes(img: dict) -> bytes:
    """The PNG bytes of an ``<img>`` holding a base64 data URL."""
    prefix = "data:image/png;base64,"
    assert img["src"].startswith(prefix), img["src"][:40]
    return base64.b64decode(img["src"][len(prefix) :], validate=True)
