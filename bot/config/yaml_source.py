"""Reading a YAML configuration file strictly: every problem is one `ConfigError` line with the
file and, where known, the line.

PyYAML's `safe_load` lets the last of two equal keys win silently, turns an impossible date
into a bare `ValueError`, and recurses once per nesting level (a file nested 10,000 deep ends in
`RecursionError`). `StrictLoader` refuses duplicate keys, leaves dates as text for pydantic to
validate, and stops at a sane depth; `read_yaml` also maps each key path to its line.
"""

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.errors import ConfigError

MAX_DEPTH = 50  # a real app.yaml nests about 5 deep
MAX_BYTES = 2_000_000
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate mapping keys and deep nesting, and keeps dates as text.

    Before a document is constructed, `index_keys` walks its nodes (merge keys are not flattened
    yet, so `<<: *defaults` overridden by a key is no duplicate) to find duplicated keys and
    record the line of each key path in `key_lines`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.nesting = 0
        self.key_lines: dict[str, int] = {}

    def compose_node(self, parent: Node | None, index: object) -> Node | None:
        self.nesting += 1
        try:
            if self.nesting > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self.nesting -= 1

    def construct_document(self, node: Node) -> Any:
        self.index_keys(node)
        return super().construct_document(node)

    def index_keys(self, node: Node, path: str = "", seen: set[int] | None = None) -> None:
        seen = set() if seen is None else seen
        if id(node) in seen:  # an alias: already walked where its anchor is
            return
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                child = f"{path}[{i}]"
                self.key_lines.setdefault(child, item.start_mark.line + 1)
                self.index_keys(item, child, seen)
        elif isinstance(node, MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE or not isinstance(key_node, ScalarNode):
                    self.index_keys(value_node, path, seen)
                    continue
                line = key_node.start_mark.line + 1
                child = f"{path}.{key_node.value}" if path else str(key_node.value)
                identity = (key_node.tag, key_node.value)
                if identity in first:
                    raise DuplicateKey(child, first[identity], key_node.start_mark)
                first[identity] = line
                self.key_lines.setdefault(child, line)
                self.index_keys(value_node, child, seen)


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


# Dates stay text: pydantic turns `2026-02-30` into an error naming the key, not a crash.
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_constructor(_TIMESTAMP, _timestamp_as_text)


class DuplicateKey(ConstructorError):
    """A key given twice in one mapping; `key` is its path (`owners[1].backup`)."""

    def __init__(self, key: str, first: int, mark: Mark) -> None:
        problem = f"duplicate key (first given at line {first}; YAML would keep only the last)"
        super().__init__(None, None, problem, mark)
        self.key = key


def read_yaml(path: Path) -> tuple[Any, dict[str, int]]:
    """The document in `path` and the line of each key path (`owners[1].email` -> 12)."""
    source = str(path)
    text = _read_text(path)
    try:
        loader = StrictLoader(text)  # the reader checks every character here
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(
            source,
            "",
            f"control character #x{exc.character:02x} is not allowed in YAML text",
            line=line,
        ) from None
    try:
        return loader.get_single_data(), loader.key_lines
    except DuplicateKey as dup:
        raise ConfigError(source, dup.key, dup.problem, line=dup.problem_mark.line + 1) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        said = ", ".join(str(part) for part in (exc.context, exc.problem) if part)
        problem = " ".join(said.split())
        raise ConfigError(
            source, "", f"not valid YAML: {problem}", line=mark.line + 1 if mark else None
        ) from None
    except ValueError as exc:
        # An explicit tag with a bad value (`!!float abc`): PyYAML's constructors raise bare errors.
        raise ConfigError(source, "", f"not valid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def _read_text(path: Path) -> str:
    source = str(path)
    if path.is_dir():
        raise ConfigError(source, "", "is a folder, not a file (give the path of app.yaml)")
    if not path.exists():
        raise ConfigError(source, "", "file not found (set TRIAGE_CONFIG to its path)")
    if not path.is_file():
        raise ConfigError(source, "", "not a regular file (give the path of app.yaml)")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(source, "", f"larger than {MAX_BYTES:,} bytes: not a config file")
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise ConfigError(source, "", "binary content, not a YAML text file", line=line)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            source,
            "",
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8",
            line=line,
        ) from None


_LAST_PART = re.compile(r"(\.[^.\[]+|\[\d+\])$")


def line_of(lines: dict[str, int], key: str) -> int | None:
    """The line of `key`, or of its nearest parent that is in the file (a missing key's)."""
    while key:
        if key in lines:
            return lines[key]
        shorter = _LAST_PART.sub("", key)
        if shorter == key:
            return None
        key = shorter
    return None
