"""Presets: priority weights and section options from YAML files.

A preset file (YAML, read safely with YAML 1.2 floats and bounded aliases, see
:mod:`ctxbudget.context._yaml`)::

    name: knowledge-heavy            # optional, defaults to the file stem
    description: Learnings first.
    extends: default                 # a bundled name, or a path relative to this file
    max_tokens: 16000                # optional cap
    default_weight: 0.05             # weight of sections the preset does not name
    sections:
      learnings: 0.30                # a bare number is a weight
      summaries:
        weight: 0.10
        title: Conversation summaries
        keep: end                    # any section option: required, min_tokens, max_tokens,
                                     # split, reducers (see ctxbudget.context.SectionOptions)
    cleanup:                         # optional: component -> its cleanup pipeline
      working_memory: working_memory # a reference pipeline by name, or a list of steps
      knowledge_base:
        - unload_skills
        - unload_docs: {idle_s: 7200}

An ``extends`` chain merges from the base up: top-level values and each section's fields set in
the extending file win (a component's ``cleanup`` entry replaces the base's whole). Bundled
presets live in the package's ``presets`` folder. ``cleanup`` entries are checked for shape here
and turned into pipelines (step names and options checked) by
:func:`ctxbudget.agents.preset_pipelines`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._errors import PresetError
from ._options import SectionOptions, describe_error
from ._yaml import YamlTooLarge, load_yaml

__all__ = ["Preset", "SectionSpec", "list_presets", "load_preset"]

#: Weight of a section a preset does not name, unless the preset sets ``default_weight``.
DEFAULT_WEIGHT = 0.05


#: A preset's options for one section: the same model as every other place options are given.
SectionSpec = SectionOptions

#: One component's cleanup in a preset: a reference pipeline's name, or steps, each a name or
#: ``{name: {option: value}}`` (:func:`ctxbudget.agents.pipeline_from_spec`).
CleanupSpec = str | list[str | dict[str, dict[str, Any] | None]]


class Preset(BaseModel):
    """A resolved preset: weights and options per section, an optional cap.

    Attributes:
        name: the preset's name.
        description: one line saying what it is for.
        max_tokens: the cap in tokens, or ``None`` (give it at build time).
        default_weight: weight of sections not named in ``sections``.
        sections: options per section name, in file order.
        cleanup: component -> its cleanup spec (:data:`CleanupSpec`), in file order.
        source: where it was loaded from (a file path), for messages.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str
    description: str = ""
    max_tokens: int | None = Field(default=None, gt=0)
    default_weight: float = Field(default=DEFAULT_WEIGHT, ge=0, allow_inf_nan=False)
    sections: dict[str, SectionSpec] = Field(default_factory=dict)
    cleanup: dict[str, CleanupSpec] = Field(default_factory=dict)
    source: str = ""

    def spec(self, section: str) -> SectionSpec:
        """Options for ``section``: its entry, with ``default_weight`` when it sets no weight."""
        spec = self.sections.get(section)
        if spec is None:
            return SectionSpec(weight=self.default_weight)
        if spec.weight is None:
            return spec.model_copy(update={"weight": self.default_weight})
        return spec

    def weights(self) -> dict[str, float]:
        """Weight of every named section, in file order."""
        return {name: self.spec(name).weight or 0.0 for name in self.sections}


class _PresetFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str | None = None
    description: str | None = None
    extends: str | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    default_weight: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    sections: dict[str, SectionSpec] = Field(default_factory=dict)
    cleanup: dict[str, CleanupSpec] = Field(default_factory=dict)

    @field_validator("default_weight", mode="before")
    @classmethod
    def _int_weight(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


def _bundled_dir() -> Path:
    packaged = resources.files("ctxbudget").joinpath("presets")
    if packaged.is_dir():
        return Path(str(packaged))
    # An editable install of a source checkout: the repository's top-level presets/ folder.
    return Path(__file__).resolve().parents[3] / "presets"


def list_presets() -> list[str]:
    """Names of the bundled presets, sorted."""
    return sorted(p.stem for p in _bundled_dir().glob("*.yaml"))


# Loaded presets by resolved path, with the (mtime, size) of every file they were merged from.
_loaded: dict[Path, tuple[tuple[tuple[Path, int, int], ...], Preset]] = {}
_loaded_lock = threading.Lock()


def _stamp(path: Path) -> tuple[Path, int, int]:
    st = path.stat()
    return (path, st.st_mtime_ns, st.st_size)


def load_preset(preset: str | Path) -> Preset:
    """Load a bundled preset by name, or a preset file by path, resolving ``extends``.

    Args:
        preset: a bundled name (``"default"``, ``"crm"``...) or a path to a YAML file.

    Returns:
        The merged, validated :class:`Preset`.

    Raises:
        PresetError: the name is unknown (the message lists the bundled names), the file is
            missing or not valid YAML, a key is unknown or duplicated, a value is invalid
            (negative, NaN or infinite weight...), all weights are zero, or ``extends`` forms a
            cycle. The error names the file, the key and, where YAML gives one, the line.
    """
    path = _resolve(preset, relative_to=None)
    real = path.resolve()
    with _loaded_lock:
        cached = _loaded.get(real)
    if cached is not None:
        stamps, loaded = cached
        with contextlib.suppress(OSError):  # a file gone since: load again, which reports it
            if all(_stamp(stamp[0]) == stamp for stamp in stamps):
                return loaded
    deps: list[Path] = []
    loaded = _load(path, chain=(), deps=deps)
    try:
        stamps = tuple(_stamp(p) for p in deps)
    except OSError:
        return loaded
    with _loaded_lock:
        _loaded[real] = (stamps, loaded)
    return loaded


def _resolve(ref: str | Path, relative_to: Path | None) -> Path:
    text = str(ref)
    looks_like_path = isinstance(ref, Path) or text.endswith((".yaml", ".yml")) or "/" in text
    if looks_like_path:
        path = Path(text).expanduser()
        if relative_to is not None and not path.is_absolute():
            path = relative_to.parent / path
        return path
    bundled = _bundled_dir() / f"{text}.yaml"
    if not bundled.is_file():
        known = ", ".join(list_presets())
        raise PresetError(
            f"unknown preset {text!r}; bundled presets: {known}; or give a path to a YAML file",
            source=str(relative_to) if relative_to else text,
            key="extends" if relative_to else None,
        )
    return bundled


def _key_lines(node: yaml.Node, source: str) -> dict[tuple[str, ...], int]:
    """1-based line of every mapping key, by key path; a duplicated key is an error."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(n: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in n.value:
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise PresetError(
                        "duplicate key (YAML would silently keep only the last one)",
                        source=source,
                        key=".".join([*path, key]),
                        line=line,
                    )
                seen.add(key)
                key_path = (*path, key)
                lines[key_path] = line
                walk(value_node, key_path)

    walk(node, ())
    return lines


def _load(path: Path, chain: tuple[Path, ...], deps: list[Path]) -> Preset:
    source = str(path)
    real = path.resolve()
    deps.append(real)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PresetError("preset file not found", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PresetError(f"cannot read preset file: {exc}", source=source) from exc
    try:
        node, data = load_yaml(text)
    except YamlTooLarge as exc:
        raise PresetError(str(exc), source=source, line=exc.line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise PresetError(
            f"not valid YAML: {problem}",
            source=source,
            line=mark.line + 1 if mark is not None else None,
        ) from exc
    lines = _key_lines(node, source) if node is not None else {}
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise PresetError(
            f"a preset must be a YAML mapping, got {type(data).__name__}", source=source, line=1
        )
    try:
        raw = _PresetFile.model_validate(data)
    except ValidationError as exc:
        loc, message = describe_error(exc)
        line = None
        for end in range(len(loc), 0, -1):
            line = lines.get(loc[:end])
            if line is not None:
                break
        if message == "unknown option":
            message = "unknown key"
        raise PresetError(message, source=source, key=".".join(loc) or None, line=line) from exc

    base: Preset | None = None
    if raw.extends is not None:
        line = lines.get(("extends",))
        try:
            base_path = _resolve(raw.extends, relative_to=path)
        except PresetError as exc:
            raise PresetError(exc.reason, source=source, key="extends", line=line) from None
        if base_path.resolve() in (*chain, real):
            cycle = " -> ".join(str(p) for p in (*chain, real, base_path.resolve()))
            raise PresetError(
                f"'extends' forms a cycle: {cycle}", source=source, key="extends", line=line
            )
        base = _load(base_path, chain=(*chain, real), deps=deps)
    merged = _merge(base, raw, name=raw.name or path.stem, source=source)
    if merged.sections and all(merged.spec(n).weight == 0 for n in merged.sections):
        raise PresetError(
            "all weights are zero: give at least one section a weight > 0",
            source=source,
            key="sections",
            line=lines.get(("sections",)),
        )
    return merged


def _merge(base: Preset | None, raw: _PresetFile, *, name: str, source: str) -> Preset:
    sections: dict[str, SectionSpec] = dict(base.sections) if base else {}
    for section, spec in raw.sections.items():
        if section in sections:
            update = spec.model_dump(exclude_unset=True)
            try:
                merged = SectionSpec.model_validate(
                    {**sections[section].model_dump(exclude_unset=True), **update}
                )
            except ValidationError as exc:
                raise PresetError(
                    f"after merging with the preset it extends: {describe_error(exc)[1]}",
                    source=source,
                    key=f"sections.{section}",
                ) from exc
            sections[section] = merged
        else:
            sections[section] = spec
    return Preset(
        name=name,
        description=raw.description
        if raw.description is not None
        else (base.description if base else ""),
        max_tokens=raw.max_tokens
        if raw.max_tokens is not None
        else (base.max_tokens if base else None),
        default_weight=raw.default_weight
        if raw.default_weight is not None
        else (base.default_weight if base else DEFAULT_WEIGHT),
        sections=sections,
        cleanup={**(base.cleanup if base else {}), **raw.cleanup},
        source=source,
    )
