"""YAML with locations: the parsed document plus the line and column of every key and value.

Errors about an agent file point at `file:line:column`, so the loader keeps, for each path
into the document (`("tools", 0, "retry")`), where its key and its value start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    """A 1-based line and column in a source file."""

    line: int
    column: int


@dataclass
class SourceDocument:
    """A parsed YAML document with the location of every key and value."""

    data: Any
    values: dict[Path, Location] = field(default_factory=dict)
    keys: dict[Path, Location] = field(default_factory=dict)
    duplicate_keys: list[Path] = field(default_factory=list)

    def locate(self, path: Path, *, prefer_key: bool = False) -> Location:
        """Where `path` is, or its nearest ancestor that exists (the top of the file last)."""
        probe = path
        while probe:
            table = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            for locations in table:
                if probe in locations:
                    return locations[probe]
            probe = probe[:-1]
        return self.values.get((), Location(1, 1))


class SourceError(Exception):
    """The file is not valid YAML; carries the location of the problem."""

    def __init__(self, message: str, location: Location) -> None:
        super().__init__(message)
        self.message = message
        self.location = location


def _loader() -> type[yaml.SafeLoader]:
    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


def parse_yaml(text: str) -> SourceDocument:
    """Parse one YAML document, recording locations; raise SourceError on bad syntax."""
    try:
        node = yaml.compose(text, Loader=_loader())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(mark.line + 1, mark.column + 1) if mark else Location(1, 1)
        problem = exc.problem or str(exc)
        raise SourceError(f"invalid YAML: {problem}", where) from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"invalid YAML: {exc}", Location(1, 1)) from exc
    if node is None:
        return SourceDocument(data=None)
    try:
        data = yaml.constructor.SafeConstructor().construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = Location(mark.line + 1, mark.column + 1) if mark else Location(1, 1)
        raise SourceError(f"invalid YAML: {exc.problem}", where) from exc
    document = SourceDocument(data=data)
    _walk(node, (), document)
    return document


def _mark(node: yaml.Node) -> Location:
    return Location(node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(node: yaml.Node, path: Path, document: SourceDocument) -> None:
    document.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            if key == "<<":  # merge keys: locations of merged values stay with their anchor
                continue
            child = (*path, key)
            if key in seen:
                document.duplicate_keys.append(child)
            seen.add(key)
            document.keys[child] = _mark(key_node)
            _walk(value_node, child, document)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), document)
