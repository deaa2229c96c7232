"""ctxbudget: assemble an LLM's context window from memory sections under a hard token budget.

>>> from ctxbudget import build_context
>>> result = build_context({"facts": "Maya lives in Lisbon"}, max_tokens=50)
>>> result.tokens <= 50
True
"""

from ._allocation import Strategy, allocate
from ._builder import ContextBuilder, build_context
from ._counting import CountCache
from ._errors import (
    BudgetError,
    CtxBudgetError,
    PresetError,
    RequiredSectionsExceedCap,
    SectionError,
    StoreError,
    TemplateError,
    TokenizerError,
)
from ._files import load_sections
from ._presets import Preset, SectionSpec, list_presets, load_preset
from ._rendering import DEFAULT_TEMPLATE
from ._result import BuiltContext, SectionReport, Status
from ._sections import Keep, Section, Split
from ._tokenizers import (
    ApproxTokenizer,
    HFTokenizer,
    TiktokenTokenizer,
    get_tokenizer,
    list_tokenizers,
)
from .typing import AsyncMemoryStore, Content, MemoryStore, Tokenizer

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TEMPLATE",
    "ApproxTokenizer",
    "AsyncMemoryStore",
    "BudgetError",
    "BuiltContext",
    "Content",
    "ContextBuilder",
    "CountCache",
    "CtxBudgetError",
    "HFTokenizer",
    "Keep",
    "MemoryStore",
    "Preset",
    "PresetError",
    "RequiredSectionsExceedCap",
    "Section",
    "SectionError",
    "SectionReport",
    "SectionSpec",
    "Split",
    "Status",
    "StoreError",
    "Strategy",
    "TemplateError",
    "TiktokenTokenizer",
    "Tokenizer",
    "TokenizerError",
    "__version__",
    "allocate",
    "build_context",
    "get_tokenizer",
    "list_presets",
    "list_tokenizers",
    "load_preset",
    "load_sections",
]
