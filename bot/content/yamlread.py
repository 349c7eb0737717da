"""Read YAML safely and remember where every key and item came from, for error messages."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import yaml

# The C parser is about 8x faster; the Python one reads the same documents.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlMap(dict[str, Any]):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """The line of `key`, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)


class YamlList(list[Any]):
    """A sequence that knows its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        """The line of item `index`."""
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class YamlReadError(Exception):
    """A YAML file that cannot be read; `line` is 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


_STR = "tag:yaml.org,2002:str"
_Scalar, _Mapping = yaml.ScalarNode, yaml.MappingNode
_SEQUENCE_TAG = "tag:yaml.org,2002:seq"
_MAPPING_TAG = "tag:yaml.org,2002:map"
_IMPLICIT_FIRST = frozenset(key for key in _BaseLoader.yaml_implicit_resolvers if key)
_WORDS = frozenset(
    variant
    for word in ("yes", "no", "true", "false", "on", "off", "null")
    for variant in (word, word.capitalize(), word.upper())
)
"""The words YAML 1.1 reads as booleans or null, as PyYAML's patterns spell them."""


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader, used to parse into nodes and to construct plain scalars."""

    # The composer calls these two around every node to track paths for path resolvers;
    # the safe loader has none, so they do nothing (and PyYAML's check costs a call each).
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        """Tag a node as the safe loader would, skipping the patterns a scalar cannot match.

        Quoted text is always a string; plain text is one unless it starts like a number,
        null or merge key, or is one of YAML 1.1's boolean and null words. Most phrases and
        every id end here without a regular expression.
        """
        if (
            kind is _Scalar
            and value
            and (
                not implicit[0]
                or value[0] not in _IMPLICIT_FIRST
                or (value[0].isalpha() and value not in _WORDS)
            )
        ):
            return _STR
        if kind is not _Scalar and not self.yaml_path_resolvers:
            # an untagged list or mapping: one per line of content, so no generic lookup
            return _MAPPING_TAG if kind is _Mapping else _SEQUENCE_TAG
        return str(super().resolve(kind, value, implicit))


_MERGE_OR_VALUE = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})


class _Builder:
    """Turns composed nodes into data, faster than PyYAML's generic constructor.

    Aliases come back as the very object their anchor built, as with `yaml.safe_load`. Every
    load builds some 20,000 nodes, so plain text (most of them) is taken straight from the node
    and the `<<:` merge handling only runs for a mapping that has such a key.
    """

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.duplicate_keys: list[tuple[str, int]] = []
        self._built: dict[int, Any] = {}

    def build(self, node: yaml.Node) -> Any:
        kind = type(node)
        if kind is _Scalar:
            if node.tag == _STR:
                return node.value
            return self.loader.construct_object(node, deep=True)
        known = self._built.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return self._sequence(node)
        return self.loader.construct_object(node, deep=True)  # pragma: no cover

    def _sequence(self, node: yaml.SequenceNode) -> YamlList:
        items = YamlList()
        self._built[id(node)] = items
        items.line = node.start_mark.line + 1
        children = node.value
        items.item_lines = [child.start_mark.line + 1 for child in children]
        build = self.build
        items.extend(
            [
                child.value if type(child) is _Scalar and child.tag == _STR else build(child)
                for child in children
            ]
        )
        return items

    def _mapping(self, node: yaml.MappingNode) -> YamlMap:
        result = YamlMap()
        self._built[id(node)] = result
        result.line = node.start_mark.line + 1
        key_lines: dict[str, int] = {}
        result.key_lines = key_lines
        # Keys written in this mapping; keys pulled in by a `<<:` merge may be overridden.
        # Without a merge every key is written here, and `key_lines` holds those seen so far.
        own: set[int] | None = None
        for key_node, _ in node.value:
            if key_node.tag in _MERGE_OR_VALUE:
                own = {id(key_node) for key_node, _ in node.value}
                self.loader.flatten_mapping(node)
                break
        written: set[str] = set()
        build = self.build
        for key_node, value_node in node.value:
            if type(key_node) is _Scalar and key_node.tag == _STR:
                key = key_node.value
            else:
                key = build(key_node)
                if not isinstance(key, str):
                    key = str(key).lower() if isinstance(key, bool) else str(key)
            line = key_node.start_mark.line + 1
            if own is None:
                if key in key_lines:
                    self.duplicate_keys.append((key, line))
            elif id(key_node) in own:
                if key in written:
                    self.duplicate_keys.append((key, line))
                written.add(key)
            if type(value_node) is _Scalar and value_node.tag == _STR:
                result[key] = value_node.value
            else:
                result[key] = build(value_node)
            key_lines[key] = line
        return result


def read_yaml(path: Path) -> tuple[Any, list[tuple[str, int]]]:
    """Parse one YAML file; return its data and any duplicate keys as (key, line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlReadError(f"cannot read the file: {exc}") from exc
    loader = _Loader(text)
    builder = _Builder(loader)
    # A phrase file is some thousands of nodes and marks that all live until it is built: the
    # cyclic collector would scan them (and the whole heap) many times over and free nothing.
    # Paused for this one file only; any cycle made here is collected on the next pass.
    collecting = gc.isenabled()
    gc.disable()
    try:
        node = loader.get_single_node()
        data = builder.build(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        reason = exc.problem or "invalid YAML"
        raise YamlReadError(f"YAML syntax error: {reason}", line) from exc
    except yaml.YAMLError as exc:
        raise YamlReadError(f"YAML error: {exc}") from exc
    finally:
        if collecting:
            gc.enable()
        loader.dispose()
    return data, builder.duplicate_keys
