"""Snapshots of assembled prompts a human reads: the example memory under every preset."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from ctxbudget import build_context, list_presets, load_sections

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("preset", list_presets())
@pytest.mark.parametrize("cap", [600, 2500])
def test_example_memory_under_every_preset(
    preset: str, cap: int, snapshot: SnapshotAssertion
) -> None:
    """The example agent memory assembled at a tight and a roomy cap, per preset."""
    folder = "agent-session" if preset == "agent-session" else "memory"
    result = build_context(load_sections([EXAMPLES / folder]), max_tokens=cap, preset=preset)
    assert result.tokens <= cap
    summary = [(r.name, r.status, r.items_kept, r.items_trimmed) for r in result.sections]
    assert (result.text, summary) == snapshot


def test_agent_session_preset_on_its_own_cap(snapshot: SnapshotAssertion) -> None:
    """The agent-session example needs no cap of its own: the preset's 200,000 applies."""
    result = build_context(load_sections([EXAMPLES / "agent-session"]), preset="agent-session")
    assert result.max_tokens == 200_000
    assert all(r.status == "full" for r in result.sections)
    assert result.text == snapshot
