"""YAML as presets and front matter read it: safe, with YAML 1.2 floats and bounded aliases.

- Only ``yaml.SafeLoader`` semantics: no Python tags, nothing is run.
- Floats as YAML 1.2 writes them: PyYAML follows YAML 1.1, where ``1e-3`` (no dot) is a
  string; here it is the number 0.001, as in every YAML 1.2 parser.
- Aliases are bounded: a few hundred bytes of nested ``&anchor``/``*alias`` references can
  stand for billions of nodes (the "billion laughs" pattern), and every walk over them
  (validation included) would never finish. A document whose expansion has more than
  :data:`MAX_NODES` nodes is refused, with the line of the first anchor it reuses.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["MAX_NODES", "YamlTooLarge", "load_yaml"]

#: Most nodes a document may expand to, aliases followed (presets have a few hundred).
MAX_NODES = 100_000

# YAML 1.2 core schema floats (https://yaml.org/spec/1.2.2/#1023-core-schema), which PyYAML's
# YAML 1.1 resolver misses when there is no dot: 1e-3, -2E+5.
_FLOAT_12 = re.compile(
    r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"
    r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
)


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats (integers keep resolving as ints first)."""


_Loader.yaml_implicit_resolvers = {
    key: list(value) for key, value in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "-+.0123456789":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).append(
        ("tag:yaml.org,2002:float", _FLOAT_12)
    )


class YamlTooLarge(ValueError):
    """The document's aliases expand to more than :data:`MAX_NODES` nodes, or it nests deeper
    than Python's recursion limit.

    Attributes:
        line: 1-based line of the first anchor reused by an alias, or ``None``.
    """

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def _expanded_size(root: yaml.Node) -> int:
    """Nodes of the document with every alias followed, counted without expanding it."""
    sizes: dict[int, int] = {}
    first_alias: list[int] = []

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            if not first_alias:
                first_alias.append(node.start_mark.line + 1)
            return known
        total = 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                total += size(key) + size(value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
        sizes[id(node)] = total
        if total > MAX_NODES:
            raise YamlTooLarge(
                f"YAML aliases expand to more than {MAX_NODES:,} nodes (this line's anchor is "
                f"the first one reused): write the values out instead of nesting anchors",
                first_alias[0] if first_alias else None,
            )
        return total

    return size(root)


def load_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The composed node tree (for key lines) and the data of one YAML document.

    Raises:
        yaml.YAMLError: the text is not valid YAML (``problem_mark`` holds the place).
        YamlTooLarge: its aliases expand past :data:`MAX_NODES` nodes, or it nests too deeply.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _expanded_size(node)
        return node, loader.construct_document(node)
    except RecursionError:
        raise YamlTooLarge("YAML nests too deeply", None) from None
    finally:
        loader.dispose()
