"""The model catalogue: bundled figures with sources, name resolution, windows, costs, and
overrides from litellm-format files, the environment and an installed litellm."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ctxbudget import ConfigurationError
from ctxbudget.models import (
    CATALOGUE_ENV,
    LITELLM_ENV,
    Catalogue,
    ModelInfo,
    bundled_catalogue,
    default_catalogue,
    get_model,
    load_catalogue,
    window_for,
)

BUNDLED = bundled_catalogue()


@pytest.fixture(autouse=True)
def _no_outside_catalogues(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see the bundled data only, unless they lay files over it themselves."""
    monkeypatch.delenv(CATALOGUE_ENV, raising=False)
    monkeypatch.setenv(LITELLM_ENV, "off")


# -- the bundled data ---------------------------------------------------------------------------

#: Models the issue names, by family: each must be in the catalogue, priced, with a window.
REQUIRED = [
    "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5", "gpt-5-mini",
    "gpt-5-nano", "o3", "o4-mini", "o3-mini", "claude-3-5-sonnet", "claude-3-5-haiku",
    "claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4", "claude-opus-4-1",
    "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5", "gemini-2.0-flash",
    "gemini-2.5-flash", "gemini-2.5-pro", "mistral-large-latest", "deepseek-chat",
]  # fmt: skip


@pytest.mark.parametrize("name", REQUIRED)
def test_each_required_model_is_priced_with_a_window(name: str) -> None:
    """Every family the issue lists resolves, costs more than $0 and has a window."""
    info = BUNDLED.find(name)
    assert info is not None, name
    assert info.priced
    assert info.cost(1_000, 1_000) > 0
    assert info.window is not None
    assert info.window >= 100_000


def test_every_bundled_model_names_its_sources_and_date() -> None:
    """No figure without provenance: each model cites an https page first and a read date."""
    assert len(BUNDLED) >= 60
    for name in BUNDLED:
        info = BUNDLED.find(name)
        assert info is not None
        assert info.sources, name
        assert info.sources[0].startswith("https://"), name
        assert info.as_of == "2026-12-01", name
        assert info.note, name


def test_every_provider_of_the_issue_is_covered() -> None:
    """OpenAI, Anthropic, Google, Meta, Mistral and DeepSeek all have models."""
    providers = {info.provider for info in map(BUNDLED.find, BUNDLED) if info is not None}
    assert providers >= {"openai", "anthropic", "google", "meta", "mistral", "deepseek"}


def test_unsourced_figures_are_none_not_guessed() -> None:
    """Meta's Llama API publishes no price: the models carry a window and no price."""
    llama = BUNDLED.find("Llama-4-Maverick-17B-128E-Instruct-FP8")
    assert llama is not None
    assert llama.window == 1_000_000
    assert (llama.input_price, llama.output_price, llama.max_output_tokens) == (None, None, None)
    assert llama.cost(1_000, 1_000) is None


# -- resolving names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-5-2025-08-07", "gpt-5"),
        ("o3-2025-04-16", "o3"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("o3-pro-2025-06-10", "o3-pro"),
        ("anthropic/claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-opus-4-0", "claude-opus-4"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("gemini/gemini-2.5-flash", "gemini-2.5-flash"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("mistral-large-latest", "mistral-large-2512"),
        ("meta-llama/Llama-3.3-70B-Instruct", "Llama-3.3-70B-Instruct"),
    ],
)
def test_names_resolve_exact_then_prefixed_then_dated(name: str, found: str) -> None:
    """Exact (case-insensitive), first-party prefix, then dated or versioned variants."""
    info = BUNDLED.find(name)
    assert info is not None, name
    assert info.name == found


@pytest.mark.parametrize(
    "name",
    ["o3-deep-research", "gpt-4o-realtime-preview", "gemini-2.5-flash-preview-05-20",
     "azure/gpt-4o", "groq/llama-3.3-70b", "my-local-model", "", None],
)  # fmt: skip
def test_other_names_do_not_borrow_a_neighbours_price(name: str | None) -> None:
    """A variant with other prices (deep research, realtime, previews) or a host prefix
    is not read as the base model: it is unknown, so its cost is unknown, not wrong."""
    assert BUNDLED.find(name) is None


def test_a_dated_snapshot_with_its_own_price_is_not_its_family() -> None:
    """gpt-4o-2024-05-13 costs $5 / $15, not gpt-4o's $2.50 / $10."""
    first = BUNDLED.find("gpt-4o-2024-05-13")
    assert first is not None
    assert (first.input_price, first.output_price) == (5.0, 15.0)


# -- windows ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4.1", 1_047_576),
        ("gpt-5", 272_000),  # of a 400,000 window: OpenAI states the input limit apart
        ("gpt-4o-2024-11-20", 128_000),
        ("claude-sonnet-4-5-20250929", 200_000),
        ("claude-opus-5", 1_000_000),
        ("gemini-2.5-pro", 1_048_576),
        ("deepseek-chat", 131_072),
    ],
)
def test_window_for_known_models(model: str, window: int) -> None:
    assert window_for(model, BUNDLED) == window


def test_window_for_an_unknown_model_names_close_matches() -> None:
    """The error names the model, the closest known names, and how to add one."""
    with pytest.raises(ConfigurationError) as info:
        window_for("gpt-4o-minii", BUNDLED)
    message = str(info.value)
    assert "'gpt-4o-minii'" in message
    assert "did you mean 'gpt-4o-mini'" in message
    assert "load_catalogue" in message
    assert CATALOGUE_ENV in message


def test_window_for_a_model_without_a_sourced_window_says_so() -> None:
    catalogue = Catalogue({"m": ModelInfo("m", input_price=1.0, output_price=2.0)})
    with pytest.raises(ConfigurationError, match="no context window for 'm'"):
        window_for("m", catalogue)


def test_window_for_uses_the_default_catalogue() -> None:
    assert window_for("o4-mini") == 200_000
    assert get_model("o4-mini") == BUNDLED.find("o4-mini")


# -- costs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # 10,000 in + 2,000 out at the catalogue's USD per 1M tokens
        ("gpt-5", (10_000 * 1.25 + 2_000 * 10.0) / 1e6),
        ("o3", (10_000 * 2.0 + 2_000 * 8.0) / 1e6),
        ("claude-sonnet-4-20250514", (10_000 * 3.0 + 2_000 * 15.0) / 1e6),
        ("claude-opus-4-1", (10_000 * 15.0 + 2_000 * 75.0) / 1e6),
        ("gemini-2.5-pro", (10_000 * 1.25 + 2_000 * 10.0) / 1e6),
        ("gemini-2.5-flash", (10_000 * 0.30 + 2_000 * 2.50) / 1e6),
    ],
)
def test_models_that_cost_zero_before_are_priced(model: str, expected: float) -> None:
    """gpt-5, o3, Claude 4 and Gemini 2.5 were $0 in the old 11-model table."""
    info = BUNDLED.find(model)
    assert info is not None
    assert info.cost(10_000, 2_000) == pytest.approx(expected)
    assert expected > 0


def test_cached_input_and_cache_writes_bill_at_their_own_rates() -> None:
    """Claude Sonnet 4.5: fresh $3, cache read $0.30, 5-minute cache write $3.75 per 1M."""
    info = BUNDLED.find("claude-sonnet-4-5")
    assert info is not None
    cost = info.cost(14_000, 500, cached_input_tokens=12_000, cache_write_tokens=1_000)
    assert cost == pytest.approx((1_000 * 3.0 + 12_000 * 0.30 + 1_000 * 3.75 + 500 * 15.0) / 1e6)
    assert cost < info.cost(14_000, 500)  # type: ignore[operator]


def test_a_prompt_over_the_long_context_threshold_bills_every_token_at_the_tier() -> None:
    """Gemini 2.5 Pro over 200,000 prompt tokens: $2.50 in, $15 out for the whole request."""
    info = BUNDLED.find("gemini-2.5-pro")
    assert info is not None
    assert info.cost(200_000, 1_000) == pytest.approx((200_000 * 1.25 + 1_000 * 10.0) / 1e6)
    assert info.cost(300_000, 1_000) == pytest.approx((300_000 * 2.50 + 1_000 * 15.0) / 1e6)


def test_a_cached_rate_missing_falls_back_to_the_input_rate() -> None:
    """No cached price: cached tokens bill as input (an upper bound), never for free."""
    info = ModelInfo("m", input_price=2.0, output_price=8.0)
    assert info.cost(1_000, 0, cached_input_tokens=1_000) == pytest.approx(0.002)


# -- overrides ------------------------------------------------------------------------------------


def _litellm_file(tmp_path: Path, entries: dict[str, object]) -> Path:
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(json.dumps({"sample_spec": {"max_tokens": "doc"}, **entries}))
    return path


def test_a_litellm_file_changes_a_price_and_adds_a_model(tmp_path: Path) -> None:
    """Per-token prices become per-1M; only the figures given change; new models appear."""
    path = _litellm_file(
        tmp_path,
        {
            "gpt-4o": {"input_cost_per_token": 3e-06, "litellm_provider": "openai"},
            "acme-large": {
                "input_cost_per_token": 1e-06,
                "output_cost_per_token": 4e-06,
                "cache_read_input_token_cost": 1e-07,
                "max_input_tokens": 64_000,
                "max_output_tokens": 8_000,
                "litellm_provider": "acme",
                "mode": "chat",
            },
            "acme-embed": {"input_cost_per_token": 1e-07, "mode": "embedding"},
        },
    )
    catalogue = load_catalogue(path, base=BUNDLED)
    gpt = catalogue.find("gpt-4o-2024-08-06")
    assert gpt is not None
    assert gpt.input_price == 3.0  # changed
    assert (gpt.output_price, gpt.cached_input_price, gpt.window) == (10.0, 1.25, 128_000)
    assert gpt.sources[0] == str(path)  # the newest layer first, the old sources kept
    assert "https://developers.openai.com/api/docs/pricing" in gpt.sources
    acme = catalogue.find("acme-large")
    assert acme is not None
    assert (acme.input_price, acme.output_price, acme.cached_input_price) == (1.0, 4.0, 0.1)
    assert (acme.window, acme.max_output_tokens) == (64_000, 8_000)
    assert acme.cost(10_000, 1_000) == pytest.approx((10_000 * 1.0 + 1_000 * 4.0) / 1e6)
    assert catalogue.find("acme-embed") is None  # not a text model
    assert BUNDLED.find("gpt-4o").input_price == 2.5  # type: ignore[union-attr]  # unchanged


def test_a_litellm_file_reads_long_context_tiers_and_legacy_max_tokens(tmp_path: Path) -> None:
    path = _litellm_file(
        tmp_path,
        {
            "tiered": {
                "input_cost_per_token": 1e-06,
                "output_cost_per_token": 2e-06,
                "input_cost_per_token_above_128k_tokens": 2e-06,
                "output_cost_per_token_above_128k_tokens": 4e-06,
                "input_cost_per_token_above_128k_tokens_batches": 1e-06,
                "max_input_tokens": 1_000_000,
                "max_tokens": 8_192,
            },
            "old-style": {"input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06,
                          "max_tokens": 4_000},
        },
    )  # fmt: skip
    catalogue = load_catalogue(path, over_default=False)
    tiered = catalogue.find("tiered")
    assert tiered is not None
    assert tiered.long_context is not None
    assert (tiered.long_context.threshold, tiered.long_context.input_price) == (128_000, 2.0)
    assert tiered.max_output_tokens == 8_192  # max_tokens is the output limit here
    assert tiered.cost(200_000, 0) == pytest.approx(0.4)
    assert catalogue.find("old-style").window == 4_000  # type: ignore[union-attr]
    assert len(catalogue) == 2


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"m": {"input_cost_per_token": -1}}', r"model 'm': input_cost_per_token must be"),
        ('{"m": {"max_input_tokens": "lots"}}', r"model 'm': max_input_tokens must be"),
    ],
)
def test_a_malformed_file_names_the_file_the_model_and_the_field(
    tmp_path: Path, content: str, match: str
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=match) as info:
        load_catalogue(path)
    assert str(path) in str(info.value)


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read model catalogue"):
        load_catalogue(tmp_path / "absent.json")


def test_the_environment_variable_lays_files_over_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _litellm_file(
        tmp_path, {"acme-small": {"input_cost_per_token": 5e-07, "output_cost_per_token": 1e-06}}
    )
    assert default_catalogue().find("acme-small") is None
    monkeypatch.setenv(CATALOGUE_ENV, str(path))
    assert default_catalogue().find("acme-small").input_price == 0.5  # type: ignore[union-attr]
    assert default_catalogue().find("gpt-4o") is not None


def _fake_litellm(tmp_path: Path, entries: dict[str, object]) -> Path:
    """A package named litellm that fails if imported, holding litellm's price file."""
    package = tmp_path / "site" / "litellm"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('litellm must not be imported')\n")
    (package / "model_prices_and_context_window_backup.json").write_text(json.dumps(entries))
    return package.parent


def test_an_installed_litellm_is_read_without_importing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its bundled price file is laid over ours (same provider only); litellm is not imported;
    LITELLM_ENV=off turns it off."""
    site = _fake_litellm(
        tmp_path,
        {
            "gpt-4.1": {"input_cost_per_token": 2.2e-06, "litellm_provider": "openai"},
            "gemini-2.5-pro": {"input_cost_per_token": 9e-06, "litellm_provider": "vertex_ai"},
            "gemini/gemini-2.5-flash": {
                "input_cost_per_token": 4e-07,
                "litellm_provider": "gemini",
            },
            "brand-new": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06},
            "bad-entry": {"max_input_tokens": -5},  # skipped, not fatal: the user did not write it
        },
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv(LITELLM_ENV)
    # the real litellm (the adapter's tests import it) must not be the one found, nor count
    for name in [m for m in sys.modules if m == "litellm" or m.startswith("litellm.")]:
        monkeypatch.delitem(sys.modules, name)
    catalogue = default_catalogue()
    assert "litellm" not in sys.modules
    assert catalogue.find("gpt-4.1").input_price == 2.2  # type: ignore[union-attr]
    assert catalogue.find("gemini-2.5-pro").input_price == 1.25  # type: ignore[union-attr]
    assert catalogue.find("gemini-2.5-flash").input_price == 0.4  # type: ignore[union-attr]
    assert catalogue.find("brand-new") is not None
    assert catalogue.find("bad-entry") is None
    monkeypatch.setenv(LITELLM_ENV, "off")
    assert default_catalogue().find("gpt-4.1").input_price == 2.0  # type: ignore[union-attr]


def test_import_ctxbudget_reads_no_catalogue_and_imports_no_litellm() -> None:
    code = (
        "import sys, ctxbudget, ctxbudget.models._catalogue as c; "
        "print(c._bundled is None, 'litellm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_the_catalogue_ships_as_package_data() -> None:
    """catalogue.json is read through importlib.resources, as from an installed wheel."""
    from importlib import resources

    data = json.loads(resources.files("ctxbudget.models").joinpath("catalogue.json").read_text())
    assert data["format"] == "ctxbudget-models/1"


def test_docstring_examples_hold() -> None:
    """The >>> examples of the catalogue and the pricing modules run as written."""
    from ctxbudget import models
    from ctxbudget.models import _catalogue, _info
    from ctxbudget.session import _pricing, _usage

    for module in (models, _catalogue, _info, _pricing, _usage):
        failures, _ = doctest.testmod(module, raise_on_error=False)
        assert failures == 0, module.__name__
