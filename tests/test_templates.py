"""Hostile and broken templates: every failure is a TemplateError with the template line, and
no template can hang a build (bounded ranges, repetition, powers and output)."""

from __future__ import annotations

import re
import time

import pytest

from ctxbudget import LLMSummarizer, TemplateError, build_context

SECTIONS = {"facts": "Maya lives in Lisbon"}


@pytest.mark.parametrize(
    ("template", "line", "words"),
    [
        ("{{ 1/0 }}", 1, "ZeroDivisionError"),
        ('ok\n{{ "%d" % "x" }}', 2, "TypeError"),
        ("a\nb\n{{ nope }}", 3, "'nope' is undefined"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", None, "recursion too deep"),
        ('{% include "other.j2" %}', 1, "cannot include, import or extend"),
        ('{% extends "base.j2" %}', 1, "cannot include, import or extend"),
        ('{% import "m.j2" as m %}', 1, "cannot include, import or extend"),
    ],
)
def test_runtime_errors_are_template_errors_with_the_line(
    template: str, line: int | None, words: str
) -> None:
    """Errors raised while rendering are TemplateError naming the line, not raw tracebacks."""
    with pytest.raises(TemplateError, match=words) as info:
        build_context(SECTIONS, max_tokens=100, template=template)
    assert info.value.line == line


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ('{{ "x" * 10**10 }}', "repeating 1 items 10,000,000,000 times"),
        ("{{ [1, 2] * 10**9 }}", "repeating 2 items"),
        ("{% for i in range(10**7) %}{% endfor %}", "range() would yield more than"),
        (
            "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
            "range() would yield more than",
        ),
        ("{{ 10 ** 100000 }}", "more than 4096 bits"),
        ('{% for i in range(100000) %}{{ "y" * 5000 }}{% endfor %}', "output would exceed"),
    ],
)
def test_unbounded_work_fails_fast(template: str, words: str) -> None:
    """Templates that would hang or exhaust memory fail in well under a second."""
    start = time.perf_counter()
    with pytest.raises(TemplateError, match=re.escape(words)):
        build_context(SECTIONS, max_tokens=100, template=template)
    assert time.perf_counter() - start < 10  # a generous bound: they used to run for minutes


def test_ordinary_loops_and_repetition_still_work() -> None:
    """The bounds leave real templates alone."""
    template = (
        "{% for s in sections %}{{ '=' * 3 }} {{ s.title }} {{ '=' * 3 }}\n{{ s.body }}\n"
        "{% endfor %}{% for i in range(3) %}.{% endfor %}"
    )
    result = build_context(SECTIONS, max_tokens=100, template=template)
    assert result.text == "=== Facts ===\nMaya lives in Lisbon\n..."


def test_summarizer_prompts_use_the_same_sandbox() -> None:
    """An LLM summarizer's prompt template is bounded and reported the same way."""
    summarizer = LLMSummarizer(lambda prompt: prompt, template="{{ items[0] / 0 }}")
    with pytest.raises(TemplateError, match="TypeError"):
        summarizer.summarize(["user: hi"], 50)
