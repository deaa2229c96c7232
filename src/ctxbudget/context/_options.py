"""Section options, declared once: :class:`SectionOptions` is what a :class:`~ctxbudget.Section`,
a preset's ``sections:`` entry, ``ContextBuilder.register(...)`` and a file's front matter
accept, validated the same way everywhere.

Options left as ``None`` are taken, in order, from the section itself, from what ``register``
was given, from the preset's entry for the section's name, and finally from the defaults
(weight 1.0 without a preset or the preset's ``default_weight``; ``keep="end"``,
``split="lines"``, a title derived from the name, not required, no floor, no ceiling).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._errors import SectionError
from .._validate import MAX_COUNT
from ..memory import check_reducer_spec

__all__ = [
    "OPTION_NAMES",
    "Keep",
    "SectionOptions",
    "Split",
    "describe_error",
    "merge_options",
    "options_error",
]

#: Which end of a section survives trimming: ``"end"`` keeps the newest (last) items.
Keep = Literal["end", "start"]
#: How text content splits into items (see :class:`~ctxbudget.Section`).
Split = Literal["lines", "paragraphs", "bullets"]

#: A reducer as a preset or a section names it: ``"dedupe"`` or ``{"dedupe": {"threshold": 0.8}}``.
ReducerSpec = str | dict[str, dict[str, Any] | None]


class SectionOptions(BaseModel):
    """How one section is weighted, bounded, trimmed and titled; ``None`` leaves an option to
    the next source (see the module docstring for the order).

    Attributes:
        weight: priority weight (>= 0, finite); shares of the cap are proportional to it and
            higher weights are assembled first and trimmed last.
        min_tokens: tokens the section gets before weights share the rest (header included),
            if it is present at all.
        max_tokens: most tokens the section may use (header included), even with no cap.
        required: never trimmed or dropped; a build raises
            :class:`~ctxbudget.RequiredSectionsExceedCap` when required sections alone exceed
            the cap.
        keep: ``"end"`` keeps the newest, last items; ``"start"`` the first ones.
        split: for text content: ``"lines"`` makes each non-blank line an item;
            ``"paragraphs"`` each run of non-blank lines; ``"bullets"`` starts an item at each
            unindented line and keeps indented lines with it.
        title: the header text.
        reducers: reducers run, in order, before trimming when the section is over its
            allocation: names (``"dedupe"``) or ``{name: {option: value}}``
            (see :mod:`ctxbudget.memory`). Names and options are checked here.

    A bare number stands for ``{"weight": number}`` (the preset form ``learnings: 0.30``).

    Raises:
        pydantic.ValidationError: an option has the wrong type or range; callers turn it into
            their own error (:func:`options_error` for ``SectionError``; presets map it to
            ``PresetError`` with file and line).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    weight: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    min_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    max_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    required: bool | None = None
    keep: Keep | None = None
    split: Split | None = None
    title: str | None = None
    reducers: list[Any] | None = None  # each a ReducerSpec, checked by _known_reducers

    @model_validator(mode="before")
    @classmethod
    def _bare_weight(cls, data: Any) -> Any:
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return {"weight": float(data)}
        if not isinstance(data, (Mapping, SectionOptions)):
            raise ValueError(
                f"expected a weight (a number >= 0) or a mapping of options, got {data!r}"
            )
        return data

    @field_validator("weight", mode="before")
    @classmethod
    def _int_weight(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    @field_validator("reducers", mode="before")
    @classmethod
    def _reducer_list(cls, value: Any) -> Any:
        if value is None or isinstance(value, list):
            return value
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            return list(value)
        raise ValueError(f"reducers must be a list of reducer names or mappings, got {value!r}")

    @field_validator("reducers", mode="after")
    @classmethod
    def _known_reducers(cls, value: list[Any] | None) -> list[Any] | None:
        for spec in value or ():
            check_reducer_spec(spec)  # ValueError naming the reducer or option
        return value

    @model_validator(mode="after")
    def _min_below_max(self) -> SectionOptions:
        if (
            self.min_tokens is not None
            and self.max_tokens is not None
            and self.min_tokens > self.max_tokens
        ):
            raise ValueError(f"min_tokens ({self.min_tokens}) > max_tokens ({self.max_tokens})")
        return self


#: The option names, in declaration order (also the front matter keys besides ``name``).
OPTION_NAMES: tuple[str, ...] = tuple(SectionOptions.model_fields)


def merge_options(*layers: SectionOptions | None) -> dict[str, Any]:
    """The options set across ``layers``, earlier layers winning: ``{name: value}`` of every
    option some layer sets (not ``None``). A plain dict, because it is made per section per
    build (a model would validate again what its layers already validated)."""
    values: dict[str, Any] = {}
    for layer in reversed(layers):
        if layer is not None:
            for name in OPTION_NAMES:
                value = layer.__dict__[name]
                if value is not None:
                    values[name] = value
    return values


def options_error(exc: ValidationError, section: str) -> SectionError:
    """The :class:`~ctxbudget.SectionError` for invalid options of ``section``, naming the
    option: ``section 'facts': weight: Input should be greater than or equal to 0 (got -1)``."""
    loc, message = describe_error(exc)
    where = ".".join(loc)
    return SectionError(f"{where}: {message}" if where else message, section=section)


def describe_error(exc: ValidationError) -> tuple[tuple[str, ...], str]:
    """``(location, message)`` of the first error, the message ending with the bad value."""
    err = exc.errors()[0]
    loc = tuple(str(part) for part in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown option"
    elif "input" in err and not isinstance(err["input"], (dict, list, Mapping)):
        message += f" (got {err['input']!r})"
    return loc, message
