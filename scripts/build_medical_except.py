"""Build the bundled ``medical_except`` task: negated ("EXCEPT") multiple-choice medical questions.

"Each of the following drugs is a statin EXCEPT:" with three members of a group and one outsider, the
outsider being the right answer. This is the negated form that medical and pharmacy exams use all the
time, and it is in damoc for a reason of its own: scored zero-shot by log-likelihood (as
lm-evaluation-harness does), a model that knows the group puts more probability on its members, so
knowing more can lower its zero-shot score (the "inverse scaling" of negated questions, McKenzie et
al. 2023, NeQA). Fine-tuning teaches the negation; what remains is knowledge. A task like this is
where a zero-shot ranking and a fine-tuned ranking of candidates can disagree, which is what
fine-tuning-based selection is for. The questions were fixed before any model was run on them. The
first version used the plain cloze prompt without the options; measured with it (benchmarks/results/
task_checks_medical_except_cloze.json), zero-shot gemma3-270m scored 0.109 and smollm2-135m 0.259 (the
trap at work), but after fine-tuning both stayed near chance (0.269, 0.285): without its options an
EXCEPT question has no single answer. So the task card now names a template that lists the options, as
an exam shows them; nothing else changed after measuring.

The facts are those of ``medical_qa`` (its tables in ``bundled_tasks/medical_qa/tables/``, read with
its loaders and exclusion rules; nothing is copied). Groups, each asked with one sentence:
- drug classes with 3+ member drugs (main or other class), outsiders from other classes that the table
  does not mark as overlapping, preferably from the class's own therapeutic areas;
- diseases by body system, infections by type of agent, organs by body system, bones by region,
  hormones by source gland, and medical terms by the word part they contain (outsiders never mention
  the part's meaning); outsiders are never listed in the tables as also belonging to the group.

The split is made on groups (one group is one question stem), so no eval stem occurs in train, and
groups whose member sets overlap by half or more (a class and a near-identical one) split together.
Each group gives up to ``PER_GROUP`` questions with different members and outsiders; a stem therefore
repeats within a split with other choices, never across splits. The position of the right answer is
balanced over A-D within each split and topic.

Run it from anywhere: ``python3 scripts/build_medical_except.py``. Standard library only; the output is
byte-identical from one run to the next. It exits non-zero if a check fails. The questions are for
model-selection benchmarking, not medical advice.
"""

from __future__ import annotations

import itertools
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ in scripts/

import build_medical_qa as med  # noqa: E402
import taskgen  # noqa: E402
from taskgen import N_CHOICES, Records, split_cell  # noqa: E402

TASK_DIR = Path(__file__).resolve().parent.parent / "src" / "damoc" / "bundled_tasks" / "medical_except"
SEED = "damoc-medical-except-v1"
EVAL_FRACTION = 0.25
PER_GROUP = 28
MIN_NEAR = 6  # use only the preferred outsiders when there are at least this many
# An EXCEPT question has no answer without its options (exams always show them), so the prompt lists them;
# each choice is still scored as the text that follows "Answer:". Every run on this task uses it unless
# the config sets its own task.template.
TEMPLATE = "Question: {{ question }}\n{% for choice in choices %}- {{ choice }}\n{% endfor %}Answer:"
TOPICS = (
    "drug_class",
    "disease_system",
    "infectious_agent",
    "organ_system",
    "bone_region",
    "hormone_source",
    "word_part",
)

DESCRIPTION = (
    'English negated multiple-choice medical questions ("Each of the following drugs is a statin EXCEPT:"; '
    "four choices: three members of a group and the outsider, which is the right answer). Groups: drug "
    "classes, diseases by body system, infections by type of agent, organs by body system, bones by region, "
    "hormones by source gland, medical terms by word part; facts from the medical_qa fact tables. Negated "
    "questions are a staple of medical exams and a known trap for zero-shot likelihood scoring (a model that "
    "knows the group prefers its members), so on this task the zero-shot order of candidates need not be their "
    "order after fine-tuning. The prompt (the card's template) lists the four options, as an exam shows them; "
    'each option is scored as the text after "Answer:". Split by group: no eval question stem occurs in train. '
    "Not medical advice; for model-selection benchmarking only."
)
SOURCE = (
    "Authored by the damoc contributors from the medical_qa fact tables (bundled_tasks/medical_qa/tables/); "
    "the examples are generated by scripts/build_medical_except.py (deterministic)."
)


@dataclass(frozen=True)
class Group:
    """Members of one group, the outsiders allowed as the right answer, and the stem that asks for it."""

    topic: str
    name: str
    stem: str
    members: tuple[str, ...]
    outsiders: tuple[str, ...]
    near: frozenset[str] = frozenset()  # preferred outsiders (same therapeutic area, ...)


def sized(groups: Iterable[Group]) -> list[Group]:
    """The groups with at least three members and three outsiders."""
    return [g for g in groups if len(g.members) >= N_CHOICES - 1 and len(g.outsiders) >= N_CHOICES - 1]


def by_column(rows: list[dict[str, str]], key: str, column: str) -> dict[str, list[str]]:
    """``row[key]`` of every row, grouped by ``row[column]``."""
    out: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r[column]:
            out[r[column]].append(r[key])
    return out


def drug_class_groups() -> list[Group]:
    """ "Each of the following drugs is a C EXCEPT:" (outsiders as in medical_qa's "Which drug is a C?")."""
    drugs, classes, excl, _ = med.load_drugs()
    areas_of = med.class_areas(drugs)
    groups = []
    for c in sorted({c for d in drugs for c in d.classes}):
        info = classes[c]

        def allowed(x: med.Drug, c: str = c, info: med.DrugClass = info) -> bool:
            if c in x.classes or any(k in excl[c] for k in x.classes):
                return False
            return not (info.functional and (not x.areas or x.areas & areas_of[c]))

        members = tuple(d.name for d in drugs if c in d.classes)
        outside = [x for x in drugs if allowed(x)]
        outsiders = tuple(x.name for x in outside)
        near = frozenset(x.name for x in outside if x.main_area in areas_of[c])
        stem = f"Each of the following drugs is {info.article} {c} EXCEPT:"
        groups.append(Group("drug_class", f"class|{c}", stem, members, outsiders, near))
    return sized(groups)


def disease_groups() -> list[Group]:
    """ "Each of the following conditions mainly affects the heart and blood vessels EXCEPT:"."""
    rows = med.read_table("diseases")
    groups = []
    for system, label in med.BODY_SYSTEMS.items():
        members = tuple(r["disease"] for r in rows if r["system"] == system)
        outsiders = tuple(r["disease"] for r in rows if system not in {r["system"], *split_cell(r["other_systems"])})
        stem = f"Each of the following conditions mainly affects the {label.lower()} EXCEPT:"
        groups.append(Group("disease_system", f"system|{system}", stem, members, outsiders))
    return sized(groups)


def infection_groups() -> list[Group]:
    """ "Each of the following infections is caused by a virus EXCEPT:"."""
    rows = med.read_table("infections")
    groups = []
    for kind, label in med.AGENT_TYPES.items():
        members = tuple(r["disease"] for r in rows if r["agent_type"] == kind)
        outsiders = tuple(r["disease"] for r in rows if r["agent_type"] != kind)
        stem = f"Each of the following infections is caused by a {label.lower()} EXCEPT:"
        groups.append(Group("infectious_agent", f"agent|{kind}", stem, members, outsiders))
    return sized(groups)


def table_groups(
    topic: str, table: str, key: str, column: str, stem: str, conflicts: Callable[[dict[str, str], str], bool]
) -> list[Group]:
    """One group per value of ``column`` in ``table``: its rows' ``key`` are the members; the outsiders are the
    rows with another value for which ``conflicts(row, value)`` is false. ``stem`` is formatted with the value;
    the group's name is "<table>|<value>"."""
    rows = med.read_table(table)
    groups = []
    for value, members in sorted(by_column(rows, key, column).items()):
        outsiders = tuple(r[key] for r in rows if r[column] and r[column] != value and not conflicts(r, value))
        groups.append(Group(topic, f"{table}|{value}", stem.format(value), tuple(members), outsiders))
    return sized(groups)


def organ_groups() -> list[Group]:
    """ "Each of the following organs is part of the digestive system EXCEPT:"."""
    stem = "Each of the following organs is part of the {} EXCEPT:"
    return table_groups(
        "organ_system", "organs", "organ", "system", stem, lambda r, v: v in split_cell(r["not_systems"])
    )


def bone_groups() -> list[Group]:
    """ "Each of the following bones is found in the wrist EXCEPT:" (overlapping regions never outsiders)."""
    stem = "Each of the following bones is found in the {} EXCEPT:"
    return table_groups(
        "bone_region", "bones", "bone", "region", stem, lambda r, v: frozenset((r["region"], v)) in med.REGION_CONFLICTS
    )


def hormone_groups() -> list[Group]:
    """ "Each of the following hormones is secreted by the anterior pituitary EXCEPT:"."""
    stem = "Each of the following hormones is secreted by the {} EXCEPT:"
    return table_groups(
        "hormone_source", "hormones", "hormone", "source", stem, lambda r, v: v in split_cell(r["not_sources"])
    )


def word_part_groups() -> list[Group]:
    """ "Each of the following medical terms contains a word part meaning 'inflammation' EXCEPT:"; an outsider
    neither lists the part nor mentions its meaning."""
    parts, terms = med.read_table("word_parts"), med.read_table("medical_terms")
    meaning_of = {r["part"]: r["meaning"] for r in parts}
    groups = []
    for part in sorted(meaning_of):
        meaning = meaning_of[part]
        members = tuple(r["term"] for r in terms if part in split_cell(r["parts"]))
        outsiders = tuple(
            r["term"] for r in terms if part not in split_cell(r["parts"]) and not med.mentions(r["meaning"], meaning)
        )
        stem = f"Each of the following medical terms contains a word part meaning '{meaning}' EXCEPT:"
        groups.append(Group("word_part", f"part|{part}", stem, members, outsiders))
    return sized(groups)


def load_groups() -> list[Group]:
    """Every group, validated by medical_qa's loaders."""
    return [
        *drug_class_groups(),
        *disease_groups(),
        *infection_groups(),
        *organ_groups(),
        *bone_groups(),
        *hormone_groups(),
        *word_part_groups(),
    ]


def group_items(group: Group) -> list[med.Item]:
    """Up to ``PER_GROUP`` questions: three members (in a random order) and an outsider, all different."""
    near = sorted(group.near & set(group.outsiders))
    outsiders = near if len(near) >= MIN_NEAR else sorted(group.outsiders)
    combos = list(itertools.product(itertools.combinations(sorted(group.members), N_CHOICES - 1), outsiders))
    rng = taskgen.seeded_rng(SEED, group.name)
    items = []
    for triple, outsider in rng.sample(combos, min(PER_GROUP, len(combos))):
        shown = list(triple)
        rng.shuffle(shown)
        items.append(med.Item(group.topic, group.name, group.stem, outsider, tuple(shown)))
    return items


def overlapping(groups: list[Group]) -> list[tuple[str, str]]:
    """Pairs of groups whose member sets overlap by half of the smaller one or more: each pair is linked
    into one split unit (``med.merge_units``), so that neither gives the other away."""
    pairs = []
    for a, b in itertools.combinations(groups, 2):
        shared = len(set(a.members) & set(b.members))
        if shared and 2 * shared >= min(len(a.members), len(b.members)):
            pairs.append((a.name, b.name))
    return pairs


def check_items(groups: list[Group], items: list[med.Item]) -> list[str]:
    """Problems with the generated questions (``entity`` is each one's group): a right answer that is a member,
    repeated choices, repeats."""
    members = {g.name: set(g.members) for g in groups}
    problems = [f"unknown topic {t!r}" for t in sorted({i.topic for i in items} - set(TOPICS))]
    stems: dict[str, set[str]] = defaultdict(set)
    for it in items:
        texts = [it.answer, *it.distractors]
        if len({t.casefold() for t in texts}) != N_CHOICES:
            problems.append(f"choices are not {N_CHOICES} distinct texts: {it.question} {texts}")
        stems[it.question].add(it.entity)
        if it.answer in members[it.entity] or not set(it.distractors) <= members[it.entity]:
            problems.append(f"answer or members wrong: {it.question} {it.answer} {it.distractors}")
    problems += [f"stem used by two groups: {s}" for s, u in stems.items() if len(u) > 1]
    keys = [(i.question, i.answer, frozenset(i.distractors)) for i in items]
    problems += [f"question generated twice: {k[0]} {k[1]}" for k in taskgen.repeated(keys)]
    return problems


def split_problems(train: Records, evals: Records) -> list[str]:
    """Choices and answer indices, answer balance, and no eval stem in train."""
    problems = taskgen.choice_problems(train + evals, str.casefold)
    for name, recs in (("train", train), ("eval", evals)):
        problems += taskgen.balance_problems(name, recs, TOPICS)
    shared = taskgen.questions(train) & taskgen.questions(evals)
    return problems + [f"eval question stem also in train: {q}" for q in sorted(shared)]


def card_checks(train: Records, evals: Records, groups: list[Group], items: list[med.Item]) -> list[str]:
    """What the checks verified, with numbers, for the card."""
    eval_stems, train_stems = taskgen.questions(evals), taskgen.questions(train)
    merged = len({i.entity for i in items if i.unit != i.entity})
    pos = f"train {taskgen.positions_text(train)}; eval {taskgen.positions_text(evals)}"
    return [
        f"0 of {len(evals)} eval question stems appear in train ({len(eval_stems)} eval stems, {len(train_stems)} "
        f"train stems); each stem is one group, asked up to {PER_GROUP} times with other members and outsiders",
        f"split by group: {len(groups)} groups, {merged} merged into another because their members overlap by half "
        "or more; no group is in both splits",
        "the right answer is never a member of the group, the three other choices always are; outsiders exclude "
        "classes, systems, regions and sources that the medical_qa tables list as also fitting",
        f"all {len(train) + len(evals)} examples have {N_CHOICES} distinct choices and a valid 0-based answer index",
        f"answer position balanced over A-D within each split and topic (max-min <= 1): {pos}",
    ]


def main() -> int:
    groups = load_groups()
    items = med.merge_units([it for g in groups for it in group_items(g)], overlapping(groups))
    problems = check_items(groups, items)
    if problems:
        return taskgen.print_problems(problems)
    held_out = taskgen.eval_units(items, SEED, EVAL_FRACTION)
    train, evals = taskgen.split_records(items, held_out, seed=SEED, topics=TOPICS, prefix="mex")
    problems = split_problems(train, evals)
    if problems:
        return taskgen.print_problems(problems)
    checks = card_checks(train, evals, groups, items)
    card = taskgen.card_text("medical_except", DESCRIPTION, SOURCE, train, evals, TOPICS, checks, template=TEMPLATE)
    TASK_DIR.mkdir(exist_ok=True)
    taskgen.write_task(TASK_DIR, train, evals, card)
    taskgen.report(train, evals, TOPICS, width=20)
    print("checks passed:\n" + "\n".join(f"- {c}" for c in checks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
