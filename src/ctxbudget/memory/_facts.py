"""Reading sentences for the running summary: who said it, and what kind of line it is.

:func:`part_of` sends a sentence to a part of the :class:`~ctxbudget.memory.SummaryState`
(facts, decisions, tasks, or narrative) by cues in its words; :func:`specificity` scores how
much a line looks like a one-off fact (names, numbers, dates, times, amounts, emails,
identifiers, first-person cues), with no context, so old and new lines are scored alike.
:func:`strip_prefixes` cuts a chain of ``summary:`` and speaker prefixes to its last speaker.
"""

from __future__ import annotations

import re

__all__ = ["FACT_CUE", "IDENTIFIER", "SPECIFIC", "part_of", "specificity", "strip_prefixes"]

_ROLES = r"summary|user|assistant|system|tool|function|developer|human|gpt|ai|bot|model"
_PREFIX = re.compile(rf"(?i)\s*({_ROLES})(?:\s+said)?\s*:\s*")
FACT_CUE = re.compile(
    r"(?i)\b(?:(?:my|our) (?:\w+ ){0,2}(?:is|was|has|had|'s)|call me|(?:i'm|i am) (?-i:[A-Z])|"
    r"i live|i'm from|i am from|i moved|i was born|i grew up|birthday|allerg\w*|intoleran\w*|"
    r"i (?:(?:really|also|much|strongly|generally|usually|always|truly|do|don't|do not) )?"
    r"(?:prefer|like|love|hate|dislike|enjoy|adore)|i'd prefer|i would prefer|i'd rather|"
    r"i would rather|i can't (?:eat|stand|have)|i never|i always|(?:i|we) (?:have|own) \d|"
    r"(?:i'm|i am) (?:a|an|vegan|vegetarian|\d+)|i work|i study|reach me|email me|contact me|"
    r"favou?rite|please (?:always|never)|don't ever|"
    r"(?:my|our) (?:\w+ ){0,2}(?-i:[A-Z][a-z]+))\b"
)
#: Specifics: emails, amounts, times, dates, weekdays, numbers.
SPECIFIC = re.compile(
    r"(?i)[\w.+-]+@[\w-]+\.\w+|[$€£¥]\s?\d|\b\d{1,2}[:h.]\d{2}\b|"
    r"\b\d+(?:[.,]\d+)?\s?(?:am|pm|a\.m|p\.m|dollars|euros|pounds|usd|eur|gbp|k)\b|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d|"
    r"\b\d{1,2}(?:st|nd|rd|th)?(?: of)? (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|"
    r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|\b\d{4}-\d{2}-\d{2}\b|\d+(?:[.,]\d+)*"
)
#: Identifiers: words mixing letters and digits (``AX-4471``), snake_case names, paths.
IDENTIFIER = re.compile(
    r"\b(?=[\w-]*\d)(?=[\w-]*[^\W\d_])\w+(?:-\w+)*\b|\b\w+(?:[_/]\w+)+(?:\.\w+)?|"
    r"\b\w+\.(?:py|js|ts|md|json|ya?ml|toml|txt|csv|html|css|go|rs|java|cpp|sh|sql)\b"
)
_REQUEST = re.compile(
    r"(?i)\b(?:(?:can|could|would|will) you|you are|you're|i want you|i'd like you|act as|"
    r"pretend|give me|tell me|help me|show me)\b|^(?:please )?(?:tell|write|give|make|create|"
    r"generate|explain|help|coach|seek|list|describe|provide|show|summari[sz]e|rewrite|"
    r"translate|act|pretend|imagine|suggest|go|use|add|find|design|draft|compose)\b"
)


#: Strong specifics: an email, a clock time, an amount of money, a date or month, a weekday,
#: or an identifier mixing letters and digits (``stg-eu-07``, ``Tangerine-42``).
_STRONG = re.compile(
    r"(?i)[\w.+-]+@[\w-]+\.\w+|\b\d{1,2}:\d{2}\b|[$€£¥]\s?\d|"
    r"\b\d[\d,.]*\s?(?:dollars|euros|pounds|usd|eur|gbp)\b|"
    r"\b(?:january|february|march|april|june|july|august|september|october|november|"
    r"december)\b|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|"
    r"\b(?=[a-z-]*\d)(?=[\d-]*[a-z])[a-z\d]+-[a-z\d-]+\b"
)
_CODE = re.compile(r"[(){}\[\]=;<>\\|`]")
_CODE_LINE = re.compile(r"(?:for|if|def|class|return|import|from|const|let|var|while)\b.*[:;{]$")
_SUBJECT = re.compile(r"(?i)^(?:\S+ ){0,5}(?:i(?!\.)|i'm|i'd|i've|i'll|my|we|we're|we've|our)\b")
_DECISION = re.compile(
    r"(?i)\b(?:(?:we|i)(?:'ve| have)? decided|decided to|(?:final |my |our )?decision (?:is|was)|"
    r"let's go with|let us go with|"
    r"let's use|(?:we|i)(?:'ll| will| are going to|'re going to) (?:use|go with|pick|take)|"
    r"going with|went with|agreed|we agree|chose|chosen|settled on|the plan is|final choice)\b"
)
_TASK = re.compile(
    r"(?i)\b(?:todo|to-do|need to|needs to|have to|remind me|don't forget|do not forget|"
    r"next steps?|follow[- ]up|deadline|due (?:on|by)|action items?|still open|later today)\b"
)
_TASK_ANYONE = re.compile(r"(?i)\b(?:todo|to-do|next steps?|action items?|follow[- ]up)\b")


def part_of(speaker: str, sentence: str, *, last_question: bool = False) -> str | None:
    """The part a sentence said by ``speaker`` (``"user"``, ``"assistant"``, ``""``...) goes
    to: ``"decisions"`` (``we decided``, ``let's go with``, ``agreed``, ``chose``...),
    ``"tasks"`` (``todo``, ``next step``; from the user also ``need to``, ``remind me``..., or a
    question when ``last_question``), ``"facts"`` (a user's first-person statement with a
    :data:`FACT_CUE` or a :data:`SPECIFIC`), else ``"narrative"``; ``None`` for code."""
    if len(_CODE.findall(sentence)) >= 3 or _CODE_LINE.match(sentence):
        return None
    user = speaker in ("user", "human", "")
    if _DECISION.search(sentence):
        return "decisions"
    question = last_question and sentence.endswith("?")
    if _TASK_ANYONE.search(sentence) or (user and (question or _TASK.search(sentence))):
        return "tasks"
    cued = bool(FACT_CUE.search(sentence) or SPECIFIC.search(sentence))
    fact = bool(_SUBJECT.match(sentence)) and cued
    # a short statement with a strong specific is a fact whoever its subject is
    fact = fact or (len(sentence.split()) <= 30 and bool(_STRONG.search(sentence)))
    return "facts" if user and fact and not sentence.endswith(("?", ":")) else "narrative"


def strip_prefixes(line: str) -> tuple[str, str]:
    """``(speaker, text)``: ``line`` without its chain of ``summary:``/speaker prefixes, and
    the last real speaker of that chain (``""`` when none, or only ``summary``)."""
    speaker = ""
    position = 0
    while match := _PREFIX.match(line, position):
        if match.end() == len(line):
            break
        role = match.group(1).lower()
        if role != "summary":
            speaker = role
        position = match.end()
    return speaker, line[position:]


def specificity(line: str) -> float:
    """How much a line looks like a one-off fact: strong first-person cues, specifics
    (numbers, dates, times, amounts, emails, identifiers, proper names), minus requests and
    length. Needs no context, so a line of the old state is scored the same way."""
    text = strip_prefixes(line)[1]
    words = text.split()
    names = sum(1 for w in words[1:] if w[:1].isupper() and w.strip(".,;:!?").lower() != "i")
    score = 3.0 * bool(FACT_CUE.search(text)) + min(3.0, 1.5 * len(SPECIFIC.findall(text)))
    score += min(2.0, 1.0 * names) + 1.0 * bool(IDENTIFIER.search(text))
    score += 1.5 * bool(_STRONG.search(text)) + 1.5 * bool(_SUBJECT.match(text))
    score -= 2.0 * bool(_REQUEST.search(text)) + max(0.0, (len(words) - 20) / 8)
    return score
