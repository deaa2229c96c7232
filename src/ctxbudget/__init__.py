"""ctxbudget: assemble an LLM's context window from memory sections under a hard token budget.

>>> from ctxbudget import build_context
>>> result = build_context({"facts": "Maya lives in Lisbon"}, max_tokens=50)
>>> result.tokens <= 50
True
"""

from ._adaptive import (
    SectionUsage,
    UsageTracker,
    adjust_allocations,
    adjusted_preset_yaml,
    utilization_band,
    utilization_report,
)
from ._allocation import Strategy, allocate
from ._archive import Archive, ArchivedBlock, MemoryArchive, SQLiteArchive, archive_from_url
from ._budget import BudgetEvent, BudgetStatus, Quota, Reservation, SessionBudget
from ._builder import ContextBuilder, build_context
from ._compaction import Compaction, Compactor, budget_indicator
from ._counting import CountCache
from ._errors import (
    BudgetError,
    BudgetExhausted,
    CtxBudgetError,
    LedgerError,
    PresetError,
    RequiredSectionsExceedCap,
    ReservationError,
    SectionError,
    StoreError,
    TemplateError,
    TokenizerError,
)
from ._files import load_sections
from ._guard import aguard, count_prompt, guard
from ._manager import Allocation, BudgetManager
from ._messages import FittedMessages, fit_messages, history_items, message_tokens
from ._presets import Preset, SectionSpec, list_presets, load_preset
from ._rendering import DEFAULT_TEMPLATE
from ._result import BuiltContext, SectionReport, Status
from ._sections import Keep, Section, Split
from ._settings import BudgetSettings
from ._summarize import ExtractiveSummarizer, LLMSummarizer
from ._tokenizers import (
    ApproxTokenizer,
    HFTokenizer,
    TiktokenTokenizer,
    get_tokenizer,
    list_tokenizers,
)
from ._window import ContextWindow, Forecast
from .ledgers import Ledger, ledger_from_url
from .typing import AsyncMemoryStore, Content, MemoryStore, Summarizer, Tokenizer

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TEMPLATE",
    "Allocation",
    "ApproxTokenizer",
    "Archive",
    "ArchivedBlock",
    "AsyncMemoryStore",
    "BudgetError",
    "BudgetEvent",
    "BudgetExhausted",
    "BudgetManager",
    "BudgetSettings",
    "BudgetStatus",
    "BuiltContext",
    "Compaction",
    "Compactor",
    "Content",
    "ContextBuilder",
    "ContextWindow",
    "CountCache",
    "CtxBudgetError",
    "ExtractiveSummarizer",
    "FittedMessages",
    "Forecast",
    "HFTokenizer",
    "Keep",
    "LLMSummarizer",
    "Ledger",
    "LedgerError",
    "MemoryArchive",
    "MemoryStore",
    "Preset",
    "PresetError",
    "Quota",
    "RequiredSectionsExceedCap",
    "Reservation",
    "ReservationError",
    "SQLiteArchive",
    "Section",
    "SectionError",
    "SectionReport",
    "SectionSpec",
    "SectionUsage",
    "SessionBudget",
    "Split",
    "Status",
    "StoreError",
    "Strategy",
    "Summarizer",
    "TemplateError",
    "TiktokenTokenizer",
    "Tokenizer",
    "TokenizerError",
    "UsageTracker",
    "__version__",
    "adjust_allocations",
    "adjusted_preset_yaml",
    "aguard",
    "allocate",
    "archive_from_url",
    "budget_indicator",
    "build_context",
    "count_prompt",
    "fit_messages",
    "get_tokenizer",
    "guard",
    "history_items",
    "ledger_from_url",
    "list_presets",
    "list_tokenizers",
    "load_preset",
    "load_sections",
    "message_tokens",
    "utilization_band",
    "utilization_report",
]
