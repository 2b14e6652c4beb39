"""A tiny DOM with CSS selectors on html.parser, for checking pages with selectors rather than substrings
(no extra dependency). Selectors: descendant steps of tag, .class, #id and [attr] / [attr="value"]."""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    @property
    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text for c in self.children]
        return re.sub(r"\s+", " ", "".join(parts)).strip()

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def walk(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.walk()

    def select(self, selector: str) -> list[Node]:
        steps = [_simple(s) for s in selector.split()]
        return [n for n in self.walk() if _matches(n, steps)]

    def one(self, selector: str) -> Node:
        found = self.select(selector)
        assert found, f"nothing matches {selector!r}"
        return found[0]


def _simple(text: str):
    tag = re.match(r"^[a-z0-9]*", text).group(0) or None
    classes = re.findall(r"\.([\w-]+)", text)
    ids = re.findall(r"#([\w-]+)", text)
    attrs = [(m[0], m[2] if m[1] else None) for m in re.findall(r'\[([\w-]+)(=)?"?([^"\]]*)"?\]', text)]
    return tag, classes, ids, attrs


def _fits(node: Node, step) -> bool:
    tag, classes, ids, attrs = step
    return ((tag is None or node.tag == tag) and all(c in node.classes for c in classes)
            and all(node.attrs.get("id") == i for i in ids)
            and all(name in node.attrs and (value is None or node.attrs[name] == value) for name, value in attrs))


def _matches(node: Node, steps) -> bool:
    if not _fits(node, steps[-1]):
        return False
    rest, current = steps[:-1], node.parent
    while rest and current is not None:
        if isinstance(current, Node) and current.tag and _fits(current, rest[-1]):
            rest = rest[:-1]
        current = current.parent
    return not rest


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node(None, {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def dom(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    return builder.root
