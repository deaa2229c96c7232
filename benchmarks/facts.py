"""Do one-off user facts survive a running summary? (issue 12)

Ten facts of different kinds (a name, a number, a date, a time, a preference, an allergy, a
place, an email or id, a decision, an amount) are planted, phrased naturally, inside real user
messages of a stream of ShareGPT conversations. The stream is cut into the chunks a compaction
would fold (consecutive messages, about 2-4k tokens each); ten consecutive merges into a
1,000-token summary follow, and a fact survives when its key value (``"Priya"``, ``"7:45"``)
is in the final rendered summary. Compared:

- ``ExtractiveSummarizer.merge``, offline (goal: >= 8 of 10);
- ``LLMSummarizer.merge`` with a deterministic fake model that answers with the planted facts
  it finds in its prompt (goal: 10 of 10; it checks the plumbing, not a model);
- the old behaviour: ``summarize(["summary: <old summary>", *items])``, as the old Compactor did.

Also measured: the share of summary tokens that are repeated ``summary:``/speaker prefixes
after 30 merges (goal: 0).

    python -m benchmarks.facts            # 5 streams
    python -m benchmarks.facts --smoke    # 1 stream
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks import corpus
from ctxbudget import ExtractiveSummarizer, LLMSummarizer, get_tokenizer

TOK = get_tokenizer("o200k_base")
BUDGET = 1000
#: kind -> (phrasings with {v}, candidate key values); the first value absent from the stream
#: is planted, so a key found in the summary came from the planted fact.
FACTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "name": (
        ("By the way, my name is {v}.", "Oh, and you can call me {v}.", "I'm {v}, by the way."),
        ("Priya", "Tomasz", "Oluwaseun", "Mireille", "Kenji"),
    ),
    "number": (
        ("My team has {v} engineers right now.", "We have {v} chickens on our farm."),
        ("37", "83", "113", "59"),
    ),
    "date": (
        ("My daughter's birthday is on {v}.", "I'm flying out to see my parents on {v}."),
        ("March 14", "October 3", "June 21", "November 29"),
    ),
    "time": (
        ("My standup is every day at {v}.", "I usually get up at {v} on weekdays."),
        ("7:45", "6:15", "9:20", "8:35"),
    ),
    "preference": (
        ("I prefer {v} to coffee.", "I really love {v}, just so you know."),
        ("oolong tea", "rooibos", "yerba mate"),
    ),
    "allergy": (
        ("Just so you know, I'm allergic to {v}.", "I can't eat {v} because of an allergy."),
        ("shellfish", "sesame", "buckwheat", "hazelnuts"),
    ),
    "place": (
        ("I live in {v} now.", "I moved to {v} last spring."),
        ("Ljubljana", "Tromsø", "Valparaíso", "Dunedin"),
    ),
    "id": (
        ("My employee ID is {v}.", "Our support ticket is {v}, if that matters."),
        ("AX-4471", "QZ-9182", "TK-3306", "RB-7720"),
    ),
    "decision": (
        ("We decided to use {v} for the backend.", "OK, let's go with {v} then."),
        ("CockroachDB", "Hetzner", "SvelteKit", "Quarkus"),
    ),
    "amount": (
        ("My monthly budget for this is {v}.", "I paid {v} for the course."),
        ("$1,250", "€380", "$2,740", "£615"),
    ),
}
_ROLE = r"(?:summary|user|assistant|system|tool|human|gpt)"
_CHAIN = re.compile(rf"^(?:-\s+)?((?:{_ROLE}\s*:\s*)+)", re.IGNORECASE)


@dataclass(frozen=True)
class Planted:
    """One planted fact: its kind, the sentence and the key value that must survive."""

    kind: str
    sentence: str
    key: str


def stream(seed: int, chunks: int, low: int = 2000, high: int = 4000) -> list[list[str]]:
    """``chunks`` consecutive chunks of ``"role: text"`` items, each ``low``-``high`` tokens
    when its messages allow, from consecutive conversations starting at a seeded offset."""
    conversations = corpus.conversations()
    start = random.Random(seed).randrange(len(conversations))
    out: list[list[str]] = []
    chunk: list[str] = []
    tokens = 0
    for n in range(len(conversations)):
        for item in corpus.message_items(conversations[(start + n) % len(conversations)]):
            cost = TOK.count(item)
            if chunk and tokens + cost > high and tokens >= low:
                out.append(chunk)
                chunk, tokens = [], 0
                if len(out) == chunks:
                    return out
            chunk.append(item)
            tokens += cost
    return [*out, chunk][:chunks]


def plant(chunks: list[list[str]], seed: int) -> list[Planted]:
    """Put the ten facts inside user messages of ``chunks`` (in place), spread over the
    chunks with two in the first; returns what was planted."""
    rng = random.Random(seed)
    text = "\n".join(x for c in chunks for x in c).casefold()
    targets = [0, 0, *sorted(rng.sample(range(1, len(chunks)), 8))]
    planted = []
    for (kind, (phrasings, values)), target in zip(FACTS.items(), targets, strict=True):
        absent = [v for v in values if v.casefold() not in text] or list(values)
        value = rng.choice(absent)
        sentence = rng.choice(phrasings).format(v=value)
        for index in [*range(target, len(chunks)), *range(target)]:
            users = [i for i, x in enumerate(chunks[index]) if x.startswith("user: ")]
            if users:
                i = rng.choice(users)
                body = chunks[index][i][len("user: ") :]
                at_end = rng.random() < 0.5
                chunks[index][i] = (
                    f"user: {body}\n{sentence}" if at_end else f"user: {sentence} {body}"
                )
                break
        planted.append(Planted(kind, sentence, value))
    return planted


def fake_model(planted: Sequence[Planted]) -> Callable[[str], str]:
    """A deterministic stand-in for a model: answers with the planted facts in its prompt."""

    def call(prompt: str) -> str:
        found = [p.sentence for p in planted if p.key in prompt]
        return "User facts and preferences:\n" + "\n".join(f"- {s}" for s in found)

    return call


def survivors(summary: str, planted: Sequence[Planted]) -> int:
    """How many planted keys are in ``summary`` (casefolded)."""
    return sum(p.key.casefold() in summary.casefold() for p in planted)


def prefix_share(summary: str) -> float:
    """Share of ``summary``'s tokens that are repeated prefixes: every ``summary:`` and every
    speaker prefix after a line's first one."""
    total = TOK.count(summary)
    repeated = 0
    for line in summary.splitlines():
        match = _CHAIN.match(line)
        if not match:
            continue
        chain = re.findall(rf"{_ROLE}\s*:\s*", match.group(1), re.IGNORECASE)
        speakers = [x for x in chain if not x.lower().startswith("summary")]
        repeated += TOK.count("".join(chain)) - (TOK.count(speakers[-1]) if speakers else 0)
    return repeated / total if total else 0.0


def run_offline(chunks: Sequence[Sequence[str]]) -> str:
    """The rendered summary after merging every chunk with ``ExtractiveSummarizer.merge``."""
    from ctxbudget.memory import SummaryState  # here: benchmarks.compaction runs older code

    summarizer, state = ExtractiveSummarizer(), SummaryState()
    for chunk in chunks:
        state = summarizer.merge(state, chunk, BUDGET)
    return state.render()


def run_llm(chunks: Sequence[Sequence[str]], planted: Sequence[Planted]) -> str:
    """The rendered summary after merging every chunk with the fake-model LLMSummarizer."""
    from ctxbudget.memory import SummaryState

    summarizer, state = LLMSummarizer(fake_model(planted)), SummaryState()
    for chunk in chunks:
        state = summarizer.merge(state, chunk, BUDGET)
    return state.render()


def run_old(chunks: Sequence[Sequence[str]]) -> str:
    """The summary after the old Compactor's loop: the old summary wrapped as ``summary:``."""
    summarizer, summary = ExtractiveSummarizer(), ""
    for chunk in chunks:
        items = [f"summary: {summary}"] if summary else []
        summary = summarizer.summarize([*items, *chunk], BUDGET)
    return summary


def main(argv: Sequence[str] | None = None) -> None:
    """Print the retention table (Markdown) for several streams."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one stream only")
    args = parser.parse_args(argv)
    seeds = [1] if args.smoke else [1, 2, 3, 4, 5]
    print("| stream (seed) | offline merge | fake LLM merge | old summarize | lost (offline) |")
    print("|---|---|---|---|---|")
    totals = [0, 0, 0]
    for seed in seeds:
        chunks = stream(seed, 10)
        planted = plant(chunks, seed)
        offline = run_offline(chunks)
        scores = [survivors(s, planted) for s in (offline, run_llm(chunks, planted))]
        scores.append(survivors(run_old(chunks), planted))
        lost = ", ".join(p.kind for p in planted if p.key.casefold() not in offline.casefold())
        totals = [t + s for t, s in zip(totals, scores, strict=True)]
        print(f"| {seed} | {scores[0]}/10 | {scores[1]}/10 | {scores[2]}/10 | {lost or '-'} |")
    n = len(seeds)
    print(f"| mean | {totals[0] / n:.1f}/10 | {totals[1] / n:.1f}/10 | {totals[2] / n:.1f}/10 | |")
    long = stream(seeds[0], 30)
    print()
    print("| after 30 merges | repeated-prefix share of summary tokens |")
    print("|---|---|")
    print(f"| offline merge | {prefix_share(run_offline(long)):.1%} |")
    print(f"| old summarize | {prefix_share(run_old(long)):.1%} |")


if __name__ == "__main__":
    main()
