"""Helpers shared by the generators of the bundled multiple-choice tasks (``scripts/build_*.py``).

Every generator writes ``train.jsonl``, ``eval.jsonl`` and ``card.yaml`` into its folder under
``src/damoc/bundled_tasks/``, and all of them must stay byte-identical from one run to the next. What
they have in common lives here: reading and validating the fact tables, seeded random generators and
hashes, picking wrong choices, the split by unit, placing the right answer at a balanced position, the
checks on the finished splits, and writing the JSONL files, the task card and the printed report. What
each task asks, and how, stays in its own script.

Standard library only. Every function that draws at random takes its ``seed`` (or a generator made
from one), so that two tasks can share the code without sharing their random choices.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

N_CHOICES = 4
Record = dict[str, object]
Records = list[Record]


@dataclass(frozen=True)
class Item:
    """One question before the right answer is placed among the choices."""

    topic: str
    unit: str  # "relation|entity" or "group|entity": the split unit, shared by the templates of one fact
    question: str
    answer: str
    distractors: tuple[str, ...]


def as_is(text: str) -> str:
    """``text`` unchanged: the strictest way of telling two choices apart."""
    return text


def cap(text: str) -> str:
    """``text`` with its first letter in upper case (the rest untouched, unlike ``str.capitalize``)."""
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------- fact tables


def read_table(tables: Path, name: str) -> list[dict[str, str]]:
    """Rows of ``<tables>/<name>.csv`` with surrounding spaces stripped (an empty cell is "")."""
    with open(tables / f"{name}.csv", encoding="utf-8", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def split_cell(cell: str) -> list[str]:
    """The values of a ``;``-separated cell, stripped, empty ones left out."""
    return [v.strip() for v in cell.split(";") if v.strip()]


def require_unique(rows: list[dict[str, str]], column: str, table: str, prefix: str = "") -> None:
    """Exit with a message (after ``prefix``) if a non-empty value repeats in ``column``."""
    counts = Counter(r[column] for r in rows if r[column])
    repeated = sorted(v for v, n in counts.items() if n > 1)
    if repeated:
        sys.exit(f"{prefix}{table}.csv: column {column!r} repeats {repeated}")


def require_allowed(rows: list[dict[str, str]], column: str, allowed: Iterable[str], table: str) -> None:
    """Exit with a message if a non-empty value of ``column`` is outside ``allowed``."""
    bad = sorted({r[column] for r in rows if r[column] and r[column] not in set(allowed)})
    if bad:
        sys.exit(f"{table}.csv: column {column!r} has unexpected values {bad}")


# ---------------------------------------------------------------- seeded randomness


def seeded_rng(seed: str, *parts: str) -> random.Random:
    """A generator seeded by the string ``seed|part|...``, hence identical on every run and machine."""
    return random.Random("|".join((seed, *parts)))


def seeded_hash(seed: str, *parts: str) -> str:
    """The SHA-256 hex digest of ``seed|part|...``: a stable key for ranking and picking."""
    return hashlib.sha256("|".join((seed, *parts)).encode()).hexdigest()


# ---------------------------------------------------------------- wrong choices


def ranked_candidates(
    answer: str,
    pool: Iterable[str],
    prefer: Callable[[str], bool] | None = None,
    *,
    fold: Callable[[str], str] = as_is,
    exclude: Iterable[str] = (),
) -> tuple[list[str], list[str]]:
    """The possible wrong choices of ``pool``, sorted and split into (preferred, rest). A value is left
    out when it is empty or, once ``fold``ed, equals the folded answer or a folded ``exclude`` value."""
    seen = {fold(answer), *(fold(c) for c in exclude)}
    candidates = sorted({c for c in pool if c and fold(c) not in seen})
    preferred = [c for c in candidates if prefer is not None and prefer(c)]
    rest = [c for c in candidates if c not in preferred]
    return preferred, rest


def pick_distractors(
    answer: str,
    pool: Iterable[str],
    rng: random.Random,
    prefer: Callable[[str], bool] | None = None,
    *,
    fold: Callable[[str], str] = as_is,
) -> tuple[str, ...]:
    """Three distinct wrong choices from ``pool``, taken from the ``prefer``red ones first; raises
    ValueError when the pool has too few. ``fold`` says which texts count as the same (e.g. casefold)."""
    preferred, rest = ranked_candidates(answer, pool, prefer, fold=fold)
    need = N_CHOICES - 1
    if len(preferred) + len(rest) < need:
        raise ValueError(f"only {len(preferred) + len(rest)} wrong choices for {answer!r}")
    if len(preferred) >= need:
        return tuple(rng.sample(preferred, need))
    chosen = preferred + rng.sample(rest, need - len(preferred))
    rng.shuffle(chosen)
    return tuple(chosen)


# ---------------------------------------------------------------- the split and the records


def unit_group(item: Item) -> str:
    """The part of an item's unit before the first "|" (its relation or entity group)."""
    return item.unit.split("|", 1)[0]


def first_by_hash(units: Iterable[str], seed: str, fraction: float) -> list[str]:
    """The ``fraction`` of ``units`` ranked first by a seeded hash (stable when other units are added)."""
    ranked = sorted(units, key=lambda u: seeded_hash(seed, u))
    return ranked[: round(len(ranked) * fraction)]


def eval_units(
    items: Iterable[Item], seed: str, fraction: float, group: Callable[[Item], str] = unit_group
) -> set[str]:
    """The split units that go to eval: within each ``group``, the ``fraction`` ranked first by hash."""
    groups: dict[str, set[str]] = defaultdict(set)
    for item in items:
        groups[group(item)].add(item.unit)
    chosen: set[str] = set()
    for units in groups.values():
        chosen.update(first_by_hash(units, seed, fraction))
    return chosen


def balanced_slots(n: int, start: int, rng: random.Random) -> list[int]:
    """``n`` answer positions going round 0..N_CHOICES-1 from ``start``, shuffled: any two positions are
    used a number of times that differs by at most one."""
    slots = [(start + k) % N_CHOICES for k in range(n)]
    rng.shuffle(slots)
    return slots


def to_records(
    items: Iterable[Item], split: str, *, seed: str, topics: Sequence[str], prefix: str, rotate: bool = False
) -> Records:
    """Shuffle ``items``, place each answer at a position balanced within its topic and number the records
    ``<prefix>-<split>-00001``, ... (``topics`` fixes the order in which topics are balanced). With
    ``rotate``, topic number k starts its cycle at position k, so the remainders land in different places."""
    order = sorted(items, key=lambda i: (i.topic, i.question, i.answer, i.distractors))
    seeded_rng(seed, "order", split).shuffle(order)
    position: dict[int, int] = {}  # index in ``order`` -> answer position (a question may repeat with other choices)
    for index, topic in enumerate(topics):
        members = [k for k, i in enumerate(order) if i.topic == topic]
        slots = balanced_slots(len(members), index if rotate else 0, seeded_rng(seed, "positions", split, topic))
        position.update(zip(members, slots, strict=True))
    records: Records = []
    for n, item in enumerate(order, start=1):
        choices = list(item.distractors)
        choices.insert(position[n - 1], item.answer)
        records.append(
            {
                "id": f"{prefix}-{split}-{n:05d}",
                "topic": item.topic,
                "question": item.question,
                "choices": choices,
                "answer": position[n - 1],
                "context": None,
            }
        )
    return records


def split_records(
    items: Sequence[Item], held_out: set[str], *, seed: str, topics: Sequence[str], prefix: str, rotate: bool = False
) -> tuple[Records, Records]:
    """(train, eval) records: the items whose unit is ``held_out`` go to eval, the others to train."""
    train = to_records(
        [i for i in items if i.unit not in held_out], "train", seed=seed, topics=topics, prefix=prefix, rotate=rotate
    )
    evals = to_records(
        [i for i in items if i.unit in held_out], "eval", seed=seed, topics=topics, prefix=prefix, rotate=rotate
    )
    return train, evals


# ---------------------------------------------------------------- checks


def repeated(texts: Iterable[str]) -> list[str]:
    """The texts that occur more than once, in the order of their first occurrence."""
    return [t for t, n in Counter(texts).items() if n > 1]


def questions(records: Iterable[Record]) -> set[str]:
    """The question strings of ``records``."""
    return {str(r["question"]) for r in records}


def answer_positions(records: Iterable[Record]) -> Counter[int]:
    """How often the right answer is at each 0-based position."""
    return Counter(int(str(r["answer"])) for r in records)


def positions_text(records: Iterable[Record]) -> str:
    """ "A=12 B=12 C=11 D=11": how often the right answer is at each position."""
    pos = answer_positions(records)
    return " ".join(f"{'ABCD'[p]}={pos[p]}" for p in range(N_CHOICES))


def choice_problems(records: Iterable[Record], fold: Callable[[str], str] = as_is) -> list[str]:
    """Records without N_CHOICES distinct choices (compared after ``fold``) or with an answer index out of range."""
    problems = []
    for rec in records:
        choices, answer = rec["choices"], rec["answer"]
        assert isinstance(choices, list) and isinstance(answer, int)
        if len(choices) != N_CHOICES or len({fold(str(c)) for c in choices}) != N_CHOICES:
            problems.append(f"{rec['id']}: choices are not {N_CHOICES} distinct texts: {choices}")
        if not 0 <= answer < len(choices):
            problems.append(f"{rec['id']}: answer index {answer} out of range")
    return problems


def balance_problems(name: str, records: Sequence[Record], topics: Iterable[str]) -> list[str]:
    """Topics of split ``name`` whose answer positions are used a number of times differing by more than one."""
    problems = []
    for topic in topics:
        pos = answer_positions(r for r in records if r["topic"] == topic)
        if pos and max(pos.values()) - min(pos[p] for p in range(N_CHOICES)) > 1:
            problems.append(f"{name}/{topic}: answer positions unbalanced {dict(pos)}")
    return problems


def split_problems(
    train: Records,
    evals: Records,
    units: dict[str, str],
    *,
    fold: Callable[[str], str] = as_is,
    balance_topics: Sequence[str] = (),
    unit_name: str = "unit",
) -> list[str]:
    """Problems with the two splits (empty when all is well): choices and answer indices, questions repeated
    within a split, answer positions unbalanced within a topic of ``balance_topics``, eval questions in train
    and split units (``units`` maps a question to its unit) in both splits."""
    problems = choice_problems(train + evals, fold)
    for name, recs in (("train", train), ("eval", evals)):
        problems += [f"{name}: question repeated: {q}" for q in repeated(str(r["question"]) for r in recs)]
        problems += balance_problems(name, recs, balance_topics)
    train_q, eval_q = questions(train), questions(evals)
    problems += [f"eval question also in train: {q}" for q in sorted(train_q & eval_q)]
    train_u, eval_u = {units[q] for q in train_q}, {units[q] for q in eval_q}
    problems += [f"{unit_name} in both splits: {u}" for u in sorted(train_u & eval_u)]
    return problems


def print_problems(problems: list[str]) -> int:
    """Print ``problems`` to stderr, one a line, and return the exit status of a failed build (1)."""
    print("\n".join(problems), file=sys.stderr)
    return 1


# ---------------------------------------------------------------- output


def write_jsonl(path: Path, records: Iterable[Record]) -> None:
    """One JSON object per line, UTF-8, "\\n" line ends."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path.write_text(text, encoding="utf-8", newline="\n")


def card_text(
    name: str,
    description: str,
    source: str,
    train: Records,
    evals: Records,
    topics: Iterable[str],
    checks: Iterable[str],
    context: str = "null",
    template: str | None = None,
) -> str:
    """The task card, as YAML (strings written as JSON, which YAML reads as double-quoted scalars);
    ``context`` is the field that holds an example's passage ("null" when there is none), ``template``
    the task's own prompt template (left out when the default plain template is the one to use)."""
    totals = Counter(str(r["topic"]) for r in train + evals)
    lines = [
        f"name: {name}",
        "type: multiple_choice",
        f"description: {json.dumps(description, ensure_ascii=False)}",
        f"source: {json.dumps(source, ensure_ascii=False)}",
        "licence: Apache-2.0",
        f"fields: {{question: question, choices: choices, answer: answer, context: {context}}}",
        f"sizes: {{train: {len(train)}, eval: {len(evals)}}}",
        "metric: acc",
        *([f"template: {json.dumps(template, ensure_ascii=False)}"] if template else []),
        "topics:",
        *(f"  {t}: {totals[t]}" for t in topics),
        "leakage_check:",
        *(f"  - {json.dumps(c, ensure_ascii=False)}" for c in checks),
    ]
    return "\n".join(lines) + "\n"


def write_task(task_dir: Path, train: Records, evals: Records, card: str) -> None:
    """Write ``train.jsonl``, ``eval.jsonl`` and ``card.yaml`` into ``task_dir``."""
    write_jsonl(task_dir / "train.jsonl", train)
    write_jsonl(task_dir / "eval.jsonl", evals)
    (task_dir / "card.yaml").write_text(card, encoding="utf-8", newline="\n")


def report(
    train: Records,
    evals: Records,
    topics: Iterable[str],
    width: int,
    extra_title: str = "",
    extra: Callable[[str], str] | None = None,
) -> None:
    """Print the counts per topic (in a first column ``width`` wide, then an optional ``extra`` column
    titled ``extra_title``) and the answer-position balance of each split."""
    tr, ev = Counter(str(r["topic"]) for r in train), Counter(str(r["topic"]) for r in evals)
    print(f"{'topic':<{width}}{'train':>7}{'eval':>7}{extra_title}")
    for t in topics:
        print(f"{t:<{width}}{tr[t]:>7}{ev[t]:>7}{extra(t) if extra else ''}")
    print(f"{'total':<{width}}{len(train):>7}{len(evals):>7}")
    for name, recs in (("train", train), ("eval", evals)):
        print(f"answer positions {name}: {positions_text(recs)}")
