"""Named cleanup steps, the four reference pipelines, and pipelines from preset specs.

Defaults are the Token Budget Management reference's, as quoted in issue 14, unless marked
"project default" (where the reference gives no figure):

================================  =====================================================
working_memory                    remove_debug (older than 2 h), archive_completed_tasks
                                  (idle 3 h), compress_inactive (> 10,000 tokens, idle 1 h,
                                  ratio 0.4), evict_lru_files (while utilization > 80 %,
                                  i.e. until 20 % headroom), then, only to meet a
                                  shortfall, shed_completed_tasks (completed tasks least
                                  recently used first, however recent: project addition)
knowledge_base                    unload_skills (idle 30 min), unload_docs (idle 4 h),
                                  summary_only_docs (fully loaded docs, ratio 0.3),
                                  remove_duplicates (docs and skills, Jaccard 0.9),
                                  compress_large (docs > 10,000 tokens, ratio 0.4)
interaction_buffer                archive_old_interactions (older than 24 h, project
                                  default), summarize_old_interactions (older than 1 h,
                                  newest 10 kept verbatim, at most 500 tokens, at most 200
                                  items a run: project defaults), remove_duplicates
                                  (interactions)
agent_context                     archive_completed_agents (status completed)
================================  =====================================================

Working memory and the interaction buffer run their steps in another order than the
reference lists them. Working memory drops old debug output and completed tasks before it
compresses anything: they are the least useful tokens and the cheapest to free, so a run that
needs only some tokens (``tokens_needed``) stops before it summarizes live contexts. The
interaction buffer archives the oldest whole first (cheap, and no summary is spent on them),
then the summary covers what lies between them and the recent ones, then redundant exchanges
go from what is left (deduplication reads every word, so it runs on the fewest items).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from functools import partial
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError, PresetError
from ._cleanup import CleanupPipeline, CleanupStep, StepFactory
from ._cleanup_steps import CompressStep, DedupeStep, EvictStep, RemoveStep, SummarizeStep

if TYPE_CHECKING:
    from ..context import Preset

__all__ = ["PIPELINES", "STEPS", "cleanup_pipeline", "pipeline_from_spec", "preset_pipelines"]
__all__ += ["step_from_spec"]

_HOUR = 3600.0

#: Step factories by name, each with its defaults; keyword options override them.
STEPS: Mapping[str, StepFactory] = {
    "compress_inactive": partial(
        CompressStep, "compress_inactive", min_tokens=10_000, idle_s=_HOUR, ratio=0.4
    ),
    "remove_debug": partial(RemoveStep, "remove_debug", kinds=("debug",), older_than_s=2 * _HOUR),
    "archive_completed_tasks": partial(
        RemoveStep, "archive_completed_tasks", kinds=("task",), status="completed",
        idle_s=3 * _HOUR,
    ),
    "evict_lru_files": partial(EvictStep, "evict_lru_files", kinds=("file",), high_water=0.8),
    "shed_completed_tasks": partial(
        RemoveStep, "shed_completed_tasks", kinds=("task",), status="completed",
        only_when_short=True,
    ),
    "unload_skills": partial(RemoveStep, "unload_skills", kinds=("skill",), idle_s=0.5 * _HOUR),
    "unload_docs": partial(RemoveStep, "unload_docs", kinds=("doc",), idle_s=4 * _HOUR),
    "summary_only_docs": partial(
        CompressStep, "summary_only_docs", kinds=("doc",), loaded="full", ratio=0.3
    ),
    "remove_duplicates": partial(DedupeStep, "remove_duplicates", threshold=0.9),
    "compress_large": partial(
        CompressStep, "compress_large", kinds=("doc",), min_tokens=10_000, ratio=0.4
    ),
    "archive_old_interactions": partial(
        RemoveStep, "archive_old_interactions", kinds=("interaction",), older_than_s=24 * _HOUR
    ),
    "summarize_old_interactions": partial(
        SummarizeStep, "summarize_old_interactions", kinds=("interaction", "summary"),
        older_than_s=_HOUR, keep_recent=10, max_tokens=500, max_items=200,
    ),
    "archive_completed_agents": partial(
        RemoveStep, "archive_completed_agents", kinds=("agent_state",), status="completed"
    ),
}  # fmt: skip

#: The reference pipelines: component -> (step name, options) in order.
PIPELINES: Mapping[str, tuple[tuple[str, Mapping[str, Any]], ...]] = {
    "working_memory": (
        ("remove_debug", {}),
        ("archive_completed_tasks", {}),
        ("compress_inactive", {}),
        ("evict_lru_files", {}),
        ("shed_completed_tasks", {}),
    ),
    "knowledge_base": (
        ("unload_skills", {}),
        ("unload_docs", {}),
        ("summary_only_docs", {}),
        ("remove_duplicates", {"kinds": ("doc", "skill")}),
        ("compress_large", {}),
    ),
    "interaction_buffer": (
        ("archive_old_interactions", {}),
        ("summarize_old_interactions", {}),
        ("remove_duplicates", {"kinds": ("interaction",)}),
    ),
    "agent_context": (("archive_completed_agents", {}),),
}


def _make(name: str, options: Mapping[str, Any], where: str) -> CleanupStep:
    factory = STEPS.get(name)
    if factory is None:
        raise ConfigurationError(
            f"{where}: unknown cleanup step {name!r}; known: {', '.join(STEPS)}"
        )
    unknown = [key for key in options if not isinstance(key, str) or key == "name"]
    if unknown:
        raise ConfigurationError(f"{where}: unknown option {unknown[0]!r} of step {name!r}")
    try:
        step: CleanupStep = factory(**options)
    except TypeError:
        # the step's init fields: not its class-level values (``_older``), which take no option
        step_type = factory.func  # type: ignore[attr-defined]
        known = sorted(f.name for f in fields(step_type) if f.init and f.name != "name")
        bad = sorted(set(options) - set(known))
        raise ConfigurationError(
            f"{where}: unknown option {bad[0] if bad else '?'!r} of step {name!r}; "
            f"known: {', '.join(known)}"
        ) from None
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
    return step


def step_from_spec(spec: object, where: str = "step") -> CleanupStep:
    """A step from its name or ``{name: {option: value}}`` (preset YAML form).

    Raises:
        ConfigurationError: an unknown step or option, a bad value, or a spec of another
            shape; the message starts with ``where`` (a key path such as
            ``cleanup.working_memory[1]``).
    """
    if isinstance(spec, str):
        return _make(spec, {}, where)
    if isinstance(spec, Mapping) and len(spec) == 1:
        name, raw = next(iter(spec.items()))
        if raw is not None and not isinstance(raw, Mapping):
            raise ConfigurationError(f"{where}: options of step {name!r} must be a mapping")
        return _make(str(name), dict(raw or {}), where)
    raise ConfigurationError(f"{where}: a step is a name or {{name: {{options}}}}, got {spec!r}")


def cleanup_pipeline(component: str, **overrides: Mapping[str, Any] | None) -> CleanupPipeline:
    """The reference pipeline of ``component``, its steps' options changed by ``overrides``.

    Args:
        component: ``"working_memory"``, ``"knowledge_base"``, ``"interaction_buffer"`` or
            ``"agent_context"``.
        **overrides: step name -> options to change (merged into the step's), or ``None`` to
            leave the step out.

    Raises:
        ConfigurationError: an unknown component (the known ones listed), an override naming a
            step the pipeline does not have, or a bad option.

    >>> cleanup_pipeline("working_memory", evict_lru_files=None)
    CleanupPipeline('working_memory', [remove_debug, archive_completed_tasks, compress_inactive])
    """
    plan = PIPELINES.get(component)
    if plan is None:
        raise ConfigurationError(
            f"no reference cleanup pipeline for {component!r}; known: {', '.join(PIPELINES)}"
        )
    names = [name for name, _ in plan]
    stray = sorted(set(overrides) - set(names))
    if stray:
        raise ConfigurationError(
            f"{component}: no step {stray[0]!r} to override; its steps: {', '.join(names)}"
        )
    steps: list[CleanupStep] = []
    for name, options in plan:
        if name in overrides and overrides[name] is None:
            continue
        change = overrides.get(name) or {}
        steps.append(_make(name, {**options, **change}, f"{component}.{name}"))
    return CleanupPipeline(component, steps)


def pipeline_from_spec(
    spec: object, name: str = "custom", where: str = "cleanup"
) -> CleanupPipeline:
    """A pipeline from a preset's spec: a reference pipeline's component name, or a list of
    steps, each a name or ``{name: {option: value}}``.

    Args:
        spec: ``"working_memory"``, or ``["remove_debug", {"evict_lru_files": {...}}]``.
        name: the pipeline's name.
        where: the key path that messages start with (``cleanup.working_memory``).

    Raises:
        ConfigurationError: an unknown step, option or component, a bad value, or a spec of
            another shape; the message names the key path and the list position.
    """
    if isinstance(spec, str):
        try:
            return cleanup_pipeline(spec)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
    if not isinstance(spec, Sequence) or isinstance(spec, (bytes, bytearray)):
        raise ConfigurationError(f"{where}: a pipeline is a list of steps or a component name")
    steps = [step_from_spec(s, f"{where}[{i}]") for i, s in enumerate(spec)]
    return CleanupPipeline(name, steps)


def preset_pipelines(preset: Preset) -> dict[str, CleanupPipeline]:
    """The cleanup pipeline of each component a preset's ``cleanup:`` mapping names.

    Returns:
        component -> pipeline (named after the component), in file order.

    Raises:
        PresetError: an unknown step, option or reference pipeline, or a bad value; the
            error's ``key`` is the path (``cleanup.working_memory[1]``) and its ``source`` the
            preset file.
    """
    pipelines: dict[str, CleanupPipeline] = {}
    for component, spec in preset.cleanup.items():
        where = f"cleanup.{component}"
        try:
            pipelines[component] = pipeline_from_spec(spec, name=component, where=where)
        except ConfigurationError as exc:
            message = str(exc)
            key, _, reason = message.partition(": ")
            raise PresetError(reason, source=preset.source or preset.name, key=key) from None
    return pipelines
