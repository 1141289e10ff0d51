"""Build the bundled ``world_facts`` multiple-choice task from the fact tables shipped with it.

Reads the CSV tables in ``src/damoc/bundled_tasks/world_facts/tables/`` and writes ``train.jsonl``,
``eval.jsonl`` and ``card.yaml`` next to them. Standard library only; the output is byte-identical
from one run to the next (every random choice comes from a ``random.Random`` seeded with a string).

How the questions are made:
- Each (entity, relation) pair, e.g. ("Peru", "capital"), yields one or two questions (a forward and,
  where the answer is unique in the table, a reverse template). The split is made on these pairs, so
  an eval pair never appears in train under any template.
- Wrong choices come from the same column of the same table, never equal the right answer, never
  repeat, and skip values that could also be right (a shared currency, a co-official or regional
  language, overlapping element categories). Where possible they are "near" the answer (same
  continent, close atomic number, symbols with the same first letter) so that the question needs
  the fact rather than a guess.
- The position of the right answer is balanced over A-D within each split and topic.

Run it from the repository root: ``python3 scripts/build_world_facts.py``. It prints counts per topic
and exits non-zero if a check fails (leakage, choice count, distinct choices, answer index).
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

TASK_DIR = Path(__file__).resolve().parent.parent / "src" / "damoc" / "bundled_tasks" / "world_facts"
TABLES = TASK_DIR / "tables"
SEED = "damoc-world-facts-v1"
EVAL_FRACTION = 0.22
N_CHOICES = 4

CONTINENTS = ("Africa", "Asia", "Europe", "North America", "Oceania", "South America")
ELEMENT_CATEGORIES = (
    "actinide",
    "alkali metal",
    "alkaline earth metal",
    "halogen",
    "lanthanide",
    "metalloid",
    "noble gas",
    "nonmetal",
    "post-transition metal",
    "transition metal",
)
# Category pairs that overlap under some common classification (lanthanides and actinides are "inner
# transition metals"; halogens and noble gases are nonmetals; the metalloid boundary is fuzzy): an
# element of one is never offered the other as a wrong choice.
CATEGORY_CONFLICTS = frozenset(
    frozenset(pair)
    for pair in (
        ("transition metal", "lanthanide"),
        ("transition metal", "actinide"),
        ("nonmetal", "noble gas"),
        ("nonmetal", "halogen"),
        ("nonmetal", "metalloid"),
        ("metalloid", "post-transition metal"),
    )
)
# Spellings of one currency name: they are never offered as wrong choices for each other.
CURRENCY_FAMILY = {"riyal": "rial", "krona": "krone", "króna": "krone", "sum": "som", "denar": "dinar"}
CURRENCY_FAMILY_SUFFIX = {"CFA franc": "franc", "pound sterling": "pound"}

TOPICS = (
    "capitals",
    "continents",
    "currencies",
    "languages",
    "element_symbols",
    "atomic_numbers",
    "element_categories",
    "literature",
    "animal_groups",
)

DESCRIPTION = (
    "English multiple-choice general-knowledge questions (four choices, one right answer) about "
    "countries (capital, continent, currency, official language), chemical elements (symbol, atomic "
    "number, category), the authors of well-known books and plays, and animal groups. Every question "
    "is generated from small fact tables written by hand, so each answer can be traced to one table "
    "row; wrong choices come from the same table column and exclude values that could also be right. "
    "The train and eval splits share no (entity, relation) pair."
)


@dataclass(frozen=True)
class Item:
    """One question before the right answer is placed among the choices."""

    topic: str
    unit: str  # "relation|entity": the split unit, shared by the templates of one fact
    question: str
    answer: str
    distractors: tuple[str, ...]


# ---------------------------------------------------------------- tables


def read_table(name: str) -> list[dict[str, str]]:
    """Rows of ``tables/<name>.csv`` with surrounding spaces stripped."""
    with open(TABLES / f"{name}.csv", encoding="utf-8", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def require_unique(rows: list[dict[str, str]], column: str, table: str) -> None:
    """Fail if a non-empty value repeats in ``column``."""
    counts = Counter(r[column] for r in rows if r[column])
    repeated = sorted(v for v, n in counts.items() if n > 1)
    if repeated:
        sys.exit(f"{table}.csv: column {column!r} repeats {repeated}")


def require_allowed(rows: list[dict[str, str]], column: str, allowed: Iterable[str], table: str) -> None:
    """Fail if a non-empty value of ``column`` is outside ``allowed``."""
    bad = sorted({r[column] for r in rows if r[column] and r[column] not in set(allowed)})
    if bad:
        sys.exit(f"{table}.csv: column {column!r} has unexpected values {bad}")


# ---------------------------------------------------------------- choosing wrong answers


def unit_rng(*parts: str) -> random.Random:
    """A generator seeded by a string, hence identical on every run and machine."""
    return random.Random("|".join((SEED, *parts)))


def pick_distractors(
    answer: str, pool: Iterable[str], rng: random.Random, prefer: Callable[[str], bool] | None = None
) -> tuple[str, ...]:
    """Three distinct wrong choices from ``pool``, taken from the ``prefer``red ones first."""
    candidates = sorted({c for c in pool if c and c != answer})
    preferred = [c for c in candidates if prefer is not None and prefer(c)]
    rest = [c for c in candidates if c not in preferred]
    need = N_CHOICES - 1
    if len(candidates) < need:
        raise ValueError(f"only {len(candidates)} wrong choices for {answer!r}")
    if len(preferred) >= need:
        return tuple(rng.sample(preferred, need))
    chosen = preferred + rng.sample(rest, need - len(preferred))
    rng.shuffle(chosen)
    return tuple(chosen)


def make_item(
    topic: str, unit: str, question: str, answer: str, pool: Iterable[str], prefer: Callable[[str], bool] | None = None
) -> Item:
    """An :class:`Item` whose wrong choices come from ``pool`` (seeded by the question text)."""
    return Item(topic, unit, question, answer, pick_distractors(answer, pool, unit_rng(question), prefer))


# ---------------------------------------------------------------- countries


def the(row: dict[str, str]) -> str:
    """The country name as it reads inside a sentence ("the Netherlands")."""
    return f"{row['article']} {row['country']}" if row["article"] else row["country"]


def same_continent(rows: list[dict[str, str]], row: dict[str, str]) -> set[str]:
    """Names of the countries on the same continent as ``row`` (none for transcontinental rows)."""
    return {r["country"] for r in rows if row["continent"] and r["continent"] == row["continent"]}


def capital_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "What is the capital of X?" and "Which country has Y as its capital?"."""
    rows = [r for r in rows if r["capital"]]
    items = []
    for row in rows:
        near = same_continent(rows, row)
        near_capitals = {r["capital"] for r in rows if r["country"] in near}
        unit = f"capital|{row['country']}"
        q = f"What is the capital of {the(row)}?"
        pool = [r["capital"] for r in rows]
        items.append(make_item("capitals", unit, q, row["capital"], pool, near_capitals.__contains__))
        if row["country"].lower() in row["capital"].lower():
            continue  # "Which country has Mexico City as its capital?" gives itself away
        q = f"Which country has {row['capital']} as its capital?"
        pool = [r["country"] for r in rows]
        items.append(make_item("capitals", unit, q, row["country"], pool, near.__contains__))
    return items


def continent_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "On which continent is X located?" (transcontinental countries have no continent and are skipped)."""
    items = []
    for row in (r for r in rows if r["continent"]):
        q = f"On which continent is {the(row)} located?"
        items.append(make_item("continents", f"continent|{row['country']}", q, row["continent"], CONTINENTS))
    return items


def currency_family(name: str) -> str:
    """The currency name with spelling variants folded together (riyal -> rial, CFA franc -> franc)."""
    return CURRENCY_FAMILY.get(name, CURRENCY_FAMILY_SUFFIX.get(name, name))


def currency_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "What is the name of the official currency of X?" and, for a currency used by one country
    in the table, "Which country has the Y as its official currency?"."""
    rows = [r for r in rows if r["currency"]]
    used_by = Counter(r["currency"] for r in rows)
    items = []
    for row in rows:
        cur, family = row["currency"], currency_family(row["currency"])
        near = same_continent(rows, row)
        unit = f"currency|{row['country']}"
        q = f"What is the name of the official currency of {the(row)}?"
        pool = [r["currency"] for r in rows if currency_family(r["currency"]) != family]
        near_names = {r["currency"] for r in rows if r["country"] in near}
        items.append(make_item("currencies", unit, q, cur, pool, near_names.__contains__))
        if used_by[cur] > 1:
            continue
        q = f"Which country has the {cur} as its official currency?"
        pool = [r["country"] for r in rows if currency_family(r["currency"]) != family]
        items.append(make_item("currencies", unit, q, row["country"], pool, near.__contains__))
    return items


def regional(row: dict[str, str]) -> set[str]:
    """Languages with some official standing in the country besides its official language."""
    return {lang.strip() for lang in row["regional_languages"].split(";") if lang.strip()}


def language_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "What is the official language of X?" and, for a language official in one country of the
    table, "In which of these countries is Y the official language?". Only countries with a single
    national official language have a value; regional or co-official languages are never distractors."""
    rows = [r for r in rows if r["language"]]
    spoken_in = Counter(r["language"] for r in rows)
    items = []
    for row in rows:
        lang, near = row["language"], same_continent(rows, row)
        unit = f"language|{row['country']}"
        q = f"What is the official language of {the(row)}?"
        pool = [r["language"] for r in rows if r["language"] not in regional(row)]
        near_langs = {r["language"] for r in rows if r["country"] in near}
        items.append(make_item("languages", unit, q, lang, pool, near_langs.__contains__))
        if spoken_in[lang] > 1:
            continue
        q = f"In which of these countries is {lang} the official language?"
        pool = [r["country"] for r in rows if r["language"] != lang and lang not in regional(r)]
        items.append(make_item("languages", unit, q, row["country"], pool, near.__contains__))
    return items


# ---------------------------------------------------------------- elements


def first_letter_in(letters: set[str], text: str) -> bool:
    """Whether ``text`` starts with one of ``letters``."""
    return text[:1] in letters


def number_near(z: int, text: str) -> bool:
    """Whether the number written in ``text`` is within 5 of ``z``."""
    return abs(int(text) - z) <= 5


def symbol_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "What is the chemical symbol for X?" and "Which element has the chemical symbol Y?"."""
    names = [r["name"].capitalize() for r in rows]
    items = []
    for row in rows:
        name, sym = row["name"].capitalize(), row["symbol"]
        unit = f"symbol|{row['name']}"
        q = f"What is the chemical symbol for {row['name']}?"
        same_initial = partial(first_letter_in, {sym[0], name[0]})
        items.append(make_item("element_symbols", unit, q, sym, [r["symbol"] for r in rows], same_initial))
        q = f"Which element has the chemical symbol {sym}?"
        items.append(make_item("element_symbols", unit, q, name, names, partial(first_letter_in, {sym[0]})))
    return items


def atomic_number_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "What is the atomic number of X?" and "Which element has the atomic number N?"."""
    numbers = [r["atomic_number"] for r in rows]
    number_of = {r["name"].capitalize(): r["atomic_number"] for r in rows}
    items = []
    for row in rows:
        name, z = row["name"].capitalize(), int(row["atomic_number"])
        unit = f"atomic_number|{row['name']}"
        q = f"What is the atomic number of {row['name']}?"
        items.append(make_item("atomic_numbers", unit, q, str(z), numbers, partial(number_near, z)))
        q = f"Which element has the atomic number {z}?"
        close = {n for n, number in number_of.items() if number_near(z, number)}
        items.append(make_item("atomic_numbers", unit, q, name, number_of, close.__contains__))
    return items


def category_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "Which category of chemical elements does X belong to?" (elements whose category is debated
    have none in the table and are skipped)."""
    items = []
    for row in (r for r in rows if r["category"]):
        cat = row["category"]
        pool = [c for c in ELEMENT_CATEGORIES if frozenset((c, cat)) not in CATEGORY_CONFLICTS]
        q = f"Which category of chemical elements does {row['name']} belong to?"
        items.append(make_item("element_categories", f"category|{row['name']}", q, cat, pool))
    return items


# ---------------------------------------------------------------- books, animals


def literature_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "Who wrote the novel X?" and, for an author with one work in the table, "Which of these works
    was written by Y?"."""
    works = Counter(r["author"] for r in rows)
    items = []
    for row in rows:
        title, author = row["title"], row["author"]
        unit = f"author|{title}"
        q = f"Who wrote the {row['kind']} {title}?" if row["kind"] else f"Who wrote {title}?"
        items.append(make_item("literature", unit, q, author, [r["author"] for r in rows]))
        if works[author] > 1:
            continue
        q = f"Which of these works was written by {author}?"
        pool = [r["title"] for r in rows if r["author"] != author]
        items.append(make_item("literature", unit, q, title, pool))
    return items


def animal_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "To which group of animals does the X belong?"."""
    groups = sorted({r["group"] for r in rows})
    items = []
    for row in rows:
        q = f"To which group of animals does the {row['animal']} belong?"
        items.append(make_item("animal_groups", f"group|{row['animal']}", q, row["group"], groups))
    return items


# ---------------------------------------------------------------- building


def load_items() -> list[Item]:
    """Validate the tables and turn them into questions."""
    countries, elements = read_table("countries"), read_table("elements")
    books, animals = read_table("literature"), read_table("animals")
    for column in ("country", "capital"):
        require_unique(countries, column, "countries")
    for column in ("atomic_number", "symbol", "name"):
        require_unique(elements, column, "elements")
    require_unique(books, "title", "literature")
    require_unique(animals, "animal", "animals")
    require_allowed(countries, "continent", CONTINENTS, "countries")
    require_allowed(countries, "article", ("the",), "countries")
    require_allowed(elements, "category", ELEMENT_CATEGORIES, "elements")
    require_allowed(books, "kind", ("novel", "novella", "play", "poem"), "literature")
    return [
        *capital_items(countries),
        *continent_items(countries),
        *currency_items(countries),
        *language_items(countries),
        *symbol_items(elements),
        *atomic_number_items(elements),
        *category_items(elements),
        *literature_items(books),
        *animal_items(animals),
    ]


def eval_units(items: list[Item]) -> set[str]:
    """The split units that go to eval: per relation, the EVAL_FRACTION of units ranked first by a
    seeded hash (stable when rows are added elsewhere in a table)."""
    by_relation: dict[str, set[str]] = {}
    for item in items:
        by_relation.setdefault(item.unit.split("|", 1)[0], set()).add(item.unit)
    chosen: set[str] = set()
    for units in by_relation.values():
        ranked = sorted(units, key=lambda u: hashlib.sha256(f"{SEED}|{u}".encode()).hexdigest())
        chosen.update(ranked[: round(len(ranked) * EVAL_FRACTION)])
    return chosen


def to_records(items: list[Item], split: str) -> list[dict[str, object]]:
    """Shuffle ``items``, place each answer at a balanced position and number the records."""
    order = sorted(items, key=lambda i: (i.topic, i.question))
    unit_rng("order", split).shuffle(order)
    position: dict[str, int] = {}
    for topic in TOPICS:
        questions = [i.question for i in order if i.topic == topic]
        offset = TOPICS.index(topic)  # rotate where each topic's remainder lands
        slots = [(n + offset) % N_CHOICES for n in range(len(questions))]
        unit_rng("positions", split, topic).shuffle(slots)
        position.update(zip(questions, slots, strict=True))
    records: list[dict[str, object]] = []
    for n, item in enumerate(order, start=1):
        choices = list(item.distractors)
        choices.insert(position[item.question], item.answer)
        records.append(
            {
                "id": f"wf-{split}-{n:05d}",
                "topic": item.topic,
                "question": item.question,
                "choices": choices,
                "answer": position[item.question],
                "context": None,
            }
        )
    return records


# ---------------------------------------------------------------- checks and output


def check(train: list[dict[str, object]], evals: list[dict[str, object]], units: dict[str, str]) -> list[str]:
    """Problems with the two splits (empty when all is well)."""
    problems = []
    for rec in train + evals:
        choices = rec["choices"]
        assert isinstance(choices, list) and isinstance(rec["answer"], int)
        if len(choices) != N_CHOICES or len(set(choices)) != N_CHOICES:
            problems.append(f"{rec['id']}: choices are not {N_CHOICES} distinct texts: {choices}")
        if not 0 <= rec["answer"] < len(choices):
            problems.append(f"{rec['id']}: answer index {rec['answer']} out of range")
    for name, recs in (("train", train), ("eval", evals)):
        repeated = [q for q, n in Counter(str(r["question"]) for r in recs).items() if n > 1]
        problems += [f"{name}: question repeated: {q}" for q in repeated]
    train_q = {str(r["question"]) for r in train}
    eval_q = {str(r["question"]) for r in evals}
    problems += [f"eval question also in train: {q}" for q in sorted(train_q & eval_q)]
    train_u = {units[q] for q in train_q}
    problems += [f"fact in both splits: {u}" for u in sorted(train_u & {units[q] for q in eval_q})]
    return problems


def write_jsonl(path: Path, records: list[dict[str, object]]) -> None:
    """One JSON object per line, UTF-8, "\\n" line ends."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path.write_text(text, encoding="utf-8", newline="\n")


def card_text(train: list[dict[str, object]], evals: list[dict[str, object]]) -> str:
    """The task card, as YAML (strings written as JSON, which YAML reads as double-quoted scalars)."""
    totals = Counter(str(r["topic"]) for r in train + evals)
    checks = [
        "no eval question string appears in train",
        "no (entity, relation) pair is in both splits, under any question template",
        "no question string repeats within a split",
        f"every example has {N_CHOICES} distinct choices and a valid 0-based answer index",
        "the right answer's position is balanced over A-D within each split and topic",
    ]
    lines = [
        "name: world_facts",
        "type: multiple_choice",
        f"description: {json.dumps(DESCRIPTION, ensure_ascii=False)}",
        "source: "
        + json.dumps(
            "Authored by the damoc contributors from public general-knowledge facts; the fact tables are in "
            "tables/ and the examples are generated by scripts/build_world_facts.py (deterministic).",
        ),
        "licence: Apache-2.0",
        "fields: {question: question, choices: choices, answer: answer, context: null}",
        f"sizes: {{train: {len(train)}, eval: {len(evals)}}}",
        "metric: acc",
        "topics:",
        *(f"  {t}: {totals[t]}" for t in TOPICS),
        "leakage_check:",
        *(f"  - {json.dumps(c)}" for c in checks),
    ]
    return "\n".join(lines) + "\n"


def report(train: list[dict[str, object]], evals: list[dict[str, object]]) -> None:
    """Print the counts per topic and the answer-position balance."""
    tr, ev = Counter(str(r["topic"]) for r in train), Counter(str(r["topic"]) for r in evals)
    print(f"{'topic':<20}{'train':>7}{'eval':>7}")
    for t in TOPICS:
        print(f"{t:<20}{tr[t]:>7}{ev[t]:>7}")
    print(f"{'total':<20}{len(train):>7}{len(evals):>7}")
    for name, recs in (("train", train), ("eval", evals)):
        pos = Counter(int(str(r["answer"])) for r in recs)
        print(f"answer positions {name}: " + " ".join(f"{'ABCD'[p]}={pos[p]}" for p in range(N_CHOICES)))


def main() -> int:
    items = load_items()
    repeated = sorted(q for q, n in Counter(i.question for i in items).items() if n > 1)
    if repeated:
        print("questions generated twice:\n" + "\n".join(repeated), file=sys.stderr)
        return 1
    units = {i.question: i.unit for i in items}
    held_out = eval_units(items)
    train = to_records([i for i in items if i.unit not in held_out], "train")
    evals = to_records([i for i in items if i.unit in held_out], "eval")
    problems = check(train, evals, units)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    write_jsonl(TASK_DIR / "train.jsonl", train)
    write_jsonl(TASK_DIR / "eval.jsonl", evals)
    (TASK_DIR / "card.yaml").write_text(card_text(train, evals), encoding="utf-8", newline="\n")
    report(train, evals)
    print("checks passed: no leakage, 4 distinct choices, valid answer indices")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
