"""Text that is not valid Unicode: the one policy, on every path.

A lone surrogate (``json.loads('"\\ud83d"')``, an emoji cut in half by a stream) is not a
character and cannot be encoded as UTF-8. ctxbudget keeps such text as given and never
rejects it:

- **counted** as U+FFFD REPLACEMENT CHARACTER, the rule tiktoken applies itself
  (``tiktoken.core.Encoding.encode_ordinary``): Hugging Face tokenizers, which refuse such
  text, get the same replaced text;
- **archived** exactly (the archive writes it JSON-escaped, ``\\ud83d``, and reads it back);
- **printed** by the command line as U+FFFD, which counts the same as the original under every
  tokenizer here, so what reaches stdout is still within the cap.
"""

from __future__ import annotations

__all__ = ["has_lone_surrogate", "replace_lone_surrogates"]


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a code point that UTF-8 cannot encode (a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def replace_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (a valid pair of surrogates becomes
    its character), exactly as tiktoken does before encoding."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
