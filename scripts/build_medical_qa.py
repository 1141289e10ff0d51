"""Build the bundled ``medical_qa`` multiple-choice task from the fact tables shipped with it.

Reads the CSV tables in ``src/damoc/bundled_tasks/medical_qa/tables/`` and writes ``train.jsonl``,
``eval.jsonl`` and ``card.yaml`` next to them. Standard library only; the output is byte-identical
from one run to the next (every random choice comes from a ``random.Random`` seeded with a string,
and sets are always sorted before sampling).

How the questions are made:
- Fact questions come from hand-written tables (drugs and drug classes, adverse effects, diseases,
  infections and their vectors, nutrients, hormones, anatomy, physiology, medical terminology). Each
  fact belongs to a split unit named after its entity ("drug|metformin", "disease|gout"); every
  template about that entity (forward, reverse, other relations) uses the same unit. Entities that name
  the same thing or state the same fact from two sides (a drug and the hormone it is, a term and the
  disease it names, a class and the drug used as its example) are merged into one unit (UNIT_LINKS).
  The split is made on units, and a text check confirms that no train question pairs an eval
  question's subject with its answer.
- Wrong choices come from the same column of the same table. They never equal the right answer,
  never repeat, and skip values that could also be right: the tables list other classes of a drug,
  the therapeutic areas in which it is used, conditions that are easily confused, hormones that act
  upstream, and so on, and the script excludes them.
- Computed questions (BMI, doses, infusion rates, unit conversions, creatinine clearance, clinical
  scores) are correct by construction. Wrong choices are values from typical mistakes (forgetting a
  factor, inverting a ratio, confusing per-hour and per-minute). Each parameter set is a split unit,
  so train and eval never share one.
- The position of the right answer is balanced over A-D within each split and topic.

Run it from anywhere: ``python3 scripts/build_medical_qa.py``. It prints counts per topic and the
checks, and exits non-zero if a check fails (leakage, choice count, distinct choices, answer index,
answer-position balance). The questions are for model-selection benchmarking, not medical advice.
"""

from __future__ import annotations

import math
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ in scripts/

import taskgen  # noqa: E402
from taskgen import N_CHOICES, Records, cap, split_cell  # noqa: E402

TASK_DIR = Path(__file__).resolve().parent.parent / "src" / "damoc" / "bundled_tasks" / "medical_qa"
TABLES = TASK_DIR / "tables"
SEED = "damoc-medical-qa-v1"
EVAL_FRACTION = 0.2

TOPICS = (
    "drug_class",
    "drug_indication",
    "drug_mechanism",
    "drug_stems",
    "adverse_effects",
    "disease_systems",
    "disease_features",
    "infectious_agents",
    "disease_vectors",
    "nutrition",
    "hormones",
    "anatomy",
    "physiology",
    "medical_terms",
    "bmi",
    "dose_calculation",
    "infusion_rate",
    "unit_conversion",
    "creatinine_clearance",
    "clinical_calculations",
)

AREAS = (
    "allergy",
    "anesthesia",
    "bacterial",
    "blood",
    "cardio",
    "endocrine",
    "eye",
    "fungal",
    "gi",
    "immune",
    "musculoskeletal",
    "neuro",
    "oncology",
    "pain",
    "parasitic",
    "psych",
    "renal",
    "reproductive",
    "respiratory",
    "skin",
    "toxicology",
    "urology",
    "viral",
)

BODY_SYSTEMS = {
    "heart": "Heart and blood vessels",
    "lungs": "Lungs and airways",
    "digestive": "Digestive system",
    "nervous": "Brain and nervous system",
    "endocrine": "Endocrine glands",
    "musculoskeletal": "Bones, joints and muscles",
    "urinary": "Kidneys and urinary tract",
    "reproductive": "Reproductive system",
    "skin": "Skin",
    "blood": "Blood and bone marrow",
    "immune": "Immune and lymphatic system",
    "eyes": "Eyes",
    "ears": "Ears",
}

AGENT_TYPES = {
    "bacterium": "Bacterium",
    "virus": "Virus",
    "fungus": "Fungus",
    "protozoan": "Protozoan parasite",
    "helminth": "Parasitic worm (helminth)",
    "prion": "Prion",
}

ORGAN_SYSTEMS = (
    "circulatory system",
    "respiratory system",
    "digestive system",
    "urinary system",
    "nervous system",
    "endocrine system",
    "lymphatic and immune system",
    "integumentary system",
    "reproductive system",
    "musculoskeletal system",
)

# Body regions that overlap (a bone near the boundary could be said to be in either): never offered
# as wrong choices for each other.
REGION_CONFLICTS = frozenset(
    frozenset(pair)
    for pair in (
        ("wrist", "hand"),
        ("wrist", "forearm"),
        ("ankle", "foot"),
        ("ankle", "lower leg"),
        ("knee", "thigh"),
        ("knee", "lower leg"),
        ("thigh", "pelvis"),
        ("neck", "head"),
        ("head", "middle ear"),
        ("shoulder", "chest"),
        ("shoulder", "upper arm"),
        ("shoulder", "neck"),
    )
)
PLURAL_BONES = frozenset({"metacarpals", "metatarsals"})
# Physiology structures named without "the" in a sentence ("the main function of platelets").
NO_ARTICLE = frozenset(
    {
        "red blood cells",
        "platelets",
        "neutrophils",
        "plasma cells",
        "helper T cells",
        "cytotoxic T cells",
        "eosinophils",
        "osteoclasts",
        "osteoblasts",
        "melanocytes",
        "type II pneumocytes",
        "parietal cells",
        "tendons",
        "ligaments",
        "articular cartilage",
        "bone marrow",
        "sweat glands",
        "Broca's area",
        "Wernicke's area",
    }
)
# Words of class names too general to give a mechanism away ("inhibitor", "receptor").
GENERIC_CLASS_WORDS = frozenset(
    {"inhibitor", "blocker", "agonist", "antagonist", "receptor", "drug", "analog", "agent", "selective", "partial"}
    | {"channel", "antiviral", "antifungal", "antibiotic", "fungal", "viral", "bacterial", "class", "compound"}
)
# Units that name the same thing, or state the same fact from two sides, under different entities (a drug and
# the hormone it is, a hormone and the structure it acts on, a disease and the term that names it): each group
# is merged into one split unit, so what an eval question asks is never given away by a train question.
UNIT_LINKS: tuple[tuple[str, ...], ...] = (
    ("drug|epinephrine (adrenaline)", "hormone|epinephrine (adrenaline)", "disease|pheochromocytoma"),
    ("drug|levothyroxine", "hormone|thyroxine (T4)"),
    ("drug|hydrocortisone", "hormone|cortisol", "hormone|aldosterone", "disease|Addison's disease"),
    ("hormone|aldosterone", "disease|primary hyperaldosteronism"),
    ("drug|hydroxocobalamin", "nutrient|vitamin B12"),
    ("drug|ferrous sulfate", "nutrient|iron", "disease|iron-deficiency anemia"),
    ("drug|leuprolide", "hormone|gonadotropin-releasing hormone"),
    ("drug|desmopressin", "hormone|antidiuretic hormone (vasopressin)", "anatomy|collecting duct"),
    ("hormone|antidiuretic hormone (vasopressin)", "disease|diabetes insipidus"),
    ("drug|insulin glargine", "drug|insulin lispro", "hormone|insulin", "disease|type 1 diabetes"),
    ("drug|epoetin alfa", "hormone|erythropoietin", "anatomy|bone marrow"),
    ("hormone|thymosin", "anatomy|thymus"),
    ("hormone|secretin", "hormone|cholecystokinin", "anatomy|pancreas", "anatomy|gallbladder"),
    ("hormone|prolactin", "disease|prolactinoma"),
    ("hormone|parathyroid hormone", "disease|primary hyperparathyroidism"),
    ("anatomy|plasma cells", "disease|multiple myeloma"),
    ("anatomy|melanocytes", "disease|melanoma"),
    ("anatomy|osteoclasts", "class|bisphosphonate"),
    ("anatomy|sinoatrial node", "class|If channel inhibitor"),
    ("anatomy|proximal convoluted tubule", "class|SGLT2 inhibitor"),
    ("anatomy|parietal cells", "class|proton pump inhibitor", "class|H2 receptor antagonist"),
    ("anatomy|red blood cells", "term|erythrocyte"),
    ("term|osteoporosis", "disease|osteoporosis"),
    ("term|pneumothorax", "disease|pneumothorax"),
    ("term|cystitis", "disease|cystitis"),
    ("term|pericarditis", "disease|pericarditis"),
    ("term|hydrocephalus", "disease|hydrocephalus"),
    ("term|cholelithiasis", "disease|gallstones"),
    ("term|nephrolithiasis", "disease|kidney stones"),
    ("term|endocarditis", "disease|infective endocarditis"),
    ("term|otitis", "disease|otitis media"),
    ("term|colitis", "disease|ulcerative colitis"),
    ("term|dermatitis", "disease|atopic dermatitis"),
    ("term|thrombosis", "disease|deep vein thrombosis"),
    ("term|arthritis", "disease|rheumatoid arthritis"),
    ("term|leukemia", "disease|chronic myeloid leukemia"),
    ("term|hemolysis", "disease|G6PD deficiency"),
)
# Drugs whose own mechanism differs from their class's typical one (partial agonists, mixed actions):
# never used as the example of their class in a mechanism question.
ATYPICAL_MECHANISM = frozenset({"aripiprazole", "buprenorphine", "tramadol", "methadone", "clozapine"})
BMI_CATEGORIES = ("Underweight", "Normal weight", "Overweight", "Obesity")
BMI_CUTOFFS = (18.5, 25.0, 30.0)

DESCRIPTION = (
    "English multiple-choice medical questions (four choices, one right answer) for comparing how well "
    "small language models learn a medical domain from fine-tuning. Fact questions cover drugs (class, "
    "main use, mechanism of the class, name stems, classic adverse effects), diseases (body system "
    "affected, defining feature), infectious agents and vectors, vitamin and mineral deficiencies, "
    "hormones, anatomy, physiology and medical terminology; they are generated from small fact tables "
    "written by hand, and wrong choices come from the same table column while excluding values that "
    "could also be right. Computed questions (BMI and WHO category, weight-based doses, tablets and "
    "liquid volumes, infusion and drip rates, unit and temperature conversions, Cockcroft-Gault "
    "creatinine clearance, mean arterial pressure, anion gap, corrected calcium, Glasgow Coma Scale, "
    "pack-years, 4-2-1 maintenance fluids, Parkland formula) are correct by construction, with wrong "
    "choices from typical calculation mistakes. Train and eval share no entity or parameter set. It is not "
    "medical advice; for model-selection benchmarking only."
)
SOURCE = (
    "Authored by the damoc contributors from standard pharmacology and physiology facts; the fact "
    "tables are in tables/ and the examples are generated by scripts/build_medical_qa.py (deterministic)."
)


@dataclass(frozen=True)
class Item(taskgen.Item):
    """One question before the right answer is placed among the choices; its unit is "group|entity",
    shared by every question about one entity."""

    entity: str = ""  # the unit before linked units were merged (kept for the leakage check)


# ---------------------------------------------------------------- tables and helpers


read_table = partial(taskgen.read_table, TABLES)
unit_rng = partial(taskgen.seeded_rng, SEED)
digest = partial(taskgen.seeded_hash, SEED)  # a stable hash to rank units and pick representatives


def require(condition: bool, message: str) -> None:
    """Stop with ``message`` when a table is inconsistent."""
    if not condition:
        sys.exit(f"table error: {message}")


def require_unique(rows: list[dict[str, str]], column: str, table: str) -> None:
    """Fail if a non-empty value repeats in ``column``."""
    taskgen.require_unique(rows, column, table, prefix="table error: ")


def maps_to(mapping: dict[str, str], value: str, key: str) -> bool:
    """Whether ``mapping[key]`` is ``value`` (with ``partial``, a test for near wrong choices)."""
    return mapping[key] == value


def has_member(mapping: dict[str, set[str]], value: str, key: str) -> bool:
    """Whether ``value`` is in ``mapping[key]`` (with ``partial``, a test for near wrong choices)."""
    return value in mapping[key]


def symmetric(pairs: dict[str, list[str]]) -> dict[str, set[str]]:
    """Make an exclusion relation symmetric: if a excludes b, b excludes a."""
    out: dict[str, set[str]] = defaultdict(set)
    for a, bs in pairs.items():
        for b in bs:
            out[a].add(b)
            out[b].add(a)
    return out


def item(
    topic: str, unit: str, question: str, answer: str, pool: Iterable[str], prefer: Callable[[str], bool] | None = None
) -> Item:
    """An ``Item`` whose distractors are drawn from ``pool`` with a generator seeded by the question (wrong
    choices that differ from the answer only in case are left out)."""
    distractors = taskgen.pick_distractors(answer, pool, unit_rng(question), prefer, fold=str.casefold)
    return Item(topic, unit, question, answer, distractors)


# ---------------------------------------------------------------- drugs


@dataclass(frozen=True)
class Drug:
    """One row of drugs.csv."""

    name: str
    classes: tuple[str, ...]  # main class first, then other classes it also belongs to
    indication: str
    areas: frozenset[str]  # every therapeutic area with an established use
    main_area: str


@dataclass(frozen=True)
class DrugClass:
    """One row of drug_classes.csv."""

    name: str
    article: str
    mechanism: str
    functional: bool  # defined by use (antiepileptic) rather than by mechanism or structure


def load_drugs() -> tuple[list[Drug], dict[str, DrugClass], dict[str, set[str]], dict[str, str]]:
    """Drugs, classes, class exclusions and the area of each condition, validated."""
    class_rows, drug_rows = read_table("drug_classes"), read_table("drugs")
    require_unique(class_rows, "class", "drug_classes")
    require_unique(drug_rows, "drug", "drugs")
    classes = {
        r["class"]: DrugClass(r["class"], r["article"], r["mechanism"], r["functional"] == "yes") for r in class_rows
    }
    excl = symmetric({r["class"]: split_cell(r["exclude_classes"]) for r in class_rows})
    for name, others in excl.items():
        require(name in classes and others <= set(classes), f"drug_classes.csv: unknown class near {name!r}")
    drugs: list[Drug] = []
    condition_area: dict[str, str] = {}
    for r in drug_rows:
        areas = split_cell(r["areas"])
        require(set(areas) <= set(AREAS), f"drugs.csv: bad area for {r['drug']}: {areas}")
        require(bool(r["indication"]) == bool(areas), f"drugs.csv: {r['drug']} needs both indication and areas")
        names = tuple(x for x in [r["class"], *split_cell(r["other_classes"])] if x)
        require(set(names) <= set(classes), f"drugs.csv: unknown class for {r['drug']}: {names}")
        if r["indication"]:
            area = condition_area.setdefault(r["indication"], areas[0])
            require(area == areas[0], f"drugs.csv: {r['indication']!r} has two areas ({area}, {areas[0]})")
        drugs.append(Drug(r["drug"], names, r["indication"], frozenset(areas), areas[0] if areas else ""))
    return drugs, classes, excl, condition_area


def class_areas(drugs: list[Drug]) -> dict[str, set[str]]:
    """For each class, the main therapeutic areas of its members."""
    out: dict[str, set[str]] = defaultdict(set)
    for d in drugs:
        for c in d.classes:
            if d.main_area:
                out[c].add(d.main_area)
    return out


def representative(members: Iterable[str]) -> str:
    """A deterministic member of a group, used to own a reverse question."""
    return min(members, key=lambda m: digest(f"drug|{m}"))


def drug_class_items(drugs: list[Drug], classes: dict[str, DrugClass], excl: dict[str, set[str]]) -> list[Item]:
    """ "Which drug class does X belong to?" and, once per class, "Which of these drugs is a C?"."""
    areas_of = class_areas(drugs)
    main_classes = sorted({d.classes[0] for d in drugs if d.classes})
    items = []
    for d in (d for d in drugs if d.classes):
        blocked = set(d.classes).union(*(excl[c] for c in d.classes))
        pool = [c for c in main_classes if c not in blocked and not (classes[c].functional and areas_of[c] & d.areas)]
        q = f"Which drug class does {d.name} belong to?"
        items.append(
            item("drug_class", f"drug|{d.name}", q, d.classes[0], pool, partial(has_member, areas_of, d.main_area))
        )
    for c in main_classes:
        rep = next(d for d in drugs if d.name == representative(x.name for x in drugs if x.classes[:1] == (c,)))
        info = classes[c]

        def allowed(x: Drug, c: str = c, info: DrugClass = info) -> bool:
            if c in x.classes or (x.classes and x.classes[0] in excl[c]):
                return False
            return not (info.functional and (not x.areas or x.areas & areas_of[c]))

        pool = [x.name for x in drugs if allowed(x)]
        near = {x.name for x in drugs if rep.main_area and x.main_area == rep.main_area}
        q = f"Which of these drugs is {info.article} {c}?"
        items.append(item("drug_class", f"drug|{rep.name}", q, rep.name, pool, near.__contains__))
    return items


def drug_indication_items(drugs: list[Drug], condition_area: dict[str, str]) -> list[Item]:
    """ "What is X mainly used for?" and, once per condition, "Which of these drugs is mainly used for Y?"."""
    items = []
    used = [d for d in drugs if d.indication]
    for d in used:
        pool = [c for c, a in condition_area.items() if a not in d.areas]
        q = f"What is {d.name} mainly used for?"
        items.append(item("drug_indication", f"drug|{d.name}", q, d.indication, pool))
    for condition in sorted(condition_area):
        rep = next(d for d in used if d.name == representative(x.name for x in used if x.indication == condition))
        pool = [x.name for x in used if condition_area[condition] not in x.areas]
        q = f"Which of these drugs is mainly used for {condition}?"
        items.append(item("drug_indication", f"drug|{rep.name}", q, rep.name, pool))
    return items


def gives_away(name: str, text: str) -> bool:
    """Whether a distinctive word of a class name (or its first four letters) appears in ``text``, as in
    "carbonic anhydrase inhibitor" / "inhibits the enzyme carbonic anhydrase"."""
    lowered = text.lower()
    for word in re.split(r"[^a-z0-9-]+", name.lower()):
        word = word.removeprefix("anti")
        if len(word) >= 4 and word not in GENERIC_CLASS_WORDS and (word in lowered or word[:4] in lowered):
            return True
    return False


def mechanism_items(
    drugs: list[Drug], classes: dict[str, DrugClass], excl: dict[str, set[str]]
) -> tuple[list[Item], list[tuple[str, ...]]]:
    """For every class with a stated mechanism: "What is the main mechanism of action of <member drug>?";
    where the class name does not spell out its mechanism, also "What is the main mechanism of action of
    a C?" and "Which drug class <mechanism>?". The example drug's unit is linked to the class unit (returned
    as links), so a mechanism is never asked about a class in one split and about its example in the other."""
    areas_of = class_areas(drugs)
    main_classes = {d.classes[0] for d in drugs if d.classes}
    with_mech = sorted(c for c in main_classes if classes[c].mechanism)
    mech = {c: cap(classes[c].mechanism) for c in with_mech}
    items: list[Item] = []
    links: list[tuple[str, ...]] = []
    for c in with_mech:
        info = classes[c]

        def near(x: str, c: str = c) -> bool:
            return bool(areas_of[x] & areas_of[c])

        examples = [d for d in drugs if d.classes == (c,) and d.name not in ATYPICAL_MECHANISM] or [
            d for d in drugs if d.classes[:1] == (c,) and d.name not in ATYPICAL_MECHANISM
        ]
        rep = min(examples, key=lambda d: digest(f"mechanism|{d.name}"))
        blocked = set(rep.classes).union(*(excl[x] for x in rep.classes))
        others = [x for x in with_mech if x not in blocked]
        links.append((f"drug|{rep.name}", f"class|{c}"))
        q = f"What is the main mechanism of action of {rep.name}?"
        items.append(
            item(
                "drug_mechanism",
                f"class|{c}",
                q,
                mech[c],
                [mech[x] for x in others],
                {mech[x] for x in others if near(x)}.__contains__,
            )
        )
        if gives_away(c, info.mechanism):
            continue
        others = [x for x in with_mech if x != c and x not in excl[c]]
        unit = f"class|{c}"
        q = f"What is the main mechanism of action of {info.article} {c}?"
        items.append(
            item(
                "drug_mechanism",
                unit,
                q,
                mech[c],
                [mech[x] for x in others],
                {mech[x] for x in others if near(x)}.__contains__,
            )
        )
        q = f"Which drug class {info.mechanism}?"
        items.append(item("drug_mechanism", unit, q, c, others, near))
    return items, links


def stem_items() -> list[Item]:
    """ "The generic-name stem '-pril' usually marks which type of drug?" and the reverse."""
    rows = read_table("drug_stems")
    require_unique(rows, "stem", "drug_stems")
    require_unique(rows, "drug_type", "drug_stems")
    items = []
    for r in rows:
        unit = f"stem|{r['stem']}"
        q = f"The generic-name stem '{r['stem']}' usually marks which type of drug?"
        items.append(item("drug_stems", unit, q, r["drug_type"], [x["drug_type"] for x in rows]))
        q = f"Which generic-name stem usually marks {r['article']} {r['drug_type']}?"
        items.append(item("drug_stems", unit, q, r["stem"], [x["stem"] for x in rows]))
    return items


def adverse_items() -> list[Item]:
    """ "Which adverse effect is classically associated with X?" (effects the drug is also known for are
    never wrong choices)."""
    names = {r["key"]: r["effect"] for r in read_table("adverse_effect_names")}
    rows = read_table("adverse_effects")
    require_unique(rows, "drug", "adverse_effects")
    pool_keys = {r["effect"] for r in rows}
    items = []
    for r in rows:
        also = set(split_cell(r["also"]))
        require(also | {r["effect"]} <= set(names), f"adverse_effects.csv: unknown effect for {r['drug']}")
        pool = [names[k] for k in sorted(pool_keys - also - {r["effect"]})]
        q = f"Which adverse effect is classically associated with {r['drug']}?"
        items.append(item("adverse_effects", f"drug|{r['drug']}", q, cap(names[r["effect"]]), [cap(p) for p in pool]))
    return items


# ---------------------------------------------------------------- diseases and infections


def disease_items() -> list[Item]:
    """Body system affected, and defining feature in both directions."""
    rows = read_table("diseases")
    for column in ("disease", "feature"):
        require_unique(rows, column, "diseases")
    confusable = symmetric({r["disease"]: split_cell(r["confusable"]) for r in rows})
    system_of = {r["disease"]: r["system"] for r in rows}
    feature_of = {r["disease"]: r["feature"] for r in rows}
    items = []
    for r in rows:
        name, unit = r["disease"], f"disease|{r['disease']}"
        busy = {r["system"], *split_cell(r["other_systems"])}
        require(busy <= set(BODY_SYSTEMS), f"diseases.csv: bad system for {name}")
        q = f"Which part of the body does {name} mainly affect?"
        pool = [BODY_SYSTEMS[s] for s in BODY_SYSTEMS if s not in busy]
        items.append(item("disease_systems", unit, q, BODY_SYSTEMS[r["system"]], pool))
        others = [d for d in system_of if d != name and d not in confusable[name]]

        def same_system(d: str, s: str = r["system"]) -> bool:
            return system_of[d] == s

        near_features = {cap(feature_of[d]) for d in others if same_system(d)}
        q = f"Which description best fits {name}?"
        pool = [cap(feature_of[d]) for d in others]
        items.append(item("disease_features", unit, q, cap(r["feature"]), pool, near_features.__contains__))
        q = f"Which condition is characterized by {r['feature']}?"
        items.append(item("disease_features", unit, q, name, others, same_system))
    return items


def infection_items() -> list[Item]:
    """Causative agent (both directions), type of agent and vector (both directions)."""
    rows = read_table("infections")
    require_unique(rows, "disease", "infections")
    require(all(r["agent_type"] in AGENT_TYPES for r in rows), "infections.csv: unknown agent type")
    causes = Counter(r["pathogen"] for r in rows if r["pathogen"])
    carries = Counter(r["vector"] for r in rows if r["vector"])
    type_of = {r["disease"]: r["agent_type"] for r in rows}
    vectors = sorted(carries)
    items = []
    for r in rows:
        name, unit, subject = r["disease"], f"infection|{r['disease']}", r["subject"] or r["disease"]
        q = f"What type of infectious agent causes {subject}?"
        items.append(item("infectious_agents", unit, q, AGENT_TYPES[r["agent_type"]], AGENT_TYPES.values()))
        if r["pathogen"]:
            same_type = {x["pathogen"] for x in rows if x["agent_type"] == r["agent_type"]}
            q = f"Which infectious agent causes {subject}?"
            pool = [x["pathogen"] for x in rows if x["pathogen"] != r["pathogen"]]
            items.append(item("infectious_agents", unit, q, r["pathogen"], pool, same_type.__contains__))
        if r["pathogen"] and causes[r["pathogen"]] == 1:
            q = f"Which disease is caused by {r['pathogen']}?"
            pool = [x["disease"] for x in rows if x["disease"] != name]
            items.append(item("infectious_agents", unit, q, name, pool, partial(maps_to, type_of, r["agent_type"])))
        if r["vector"]:
            q = f"Which of these vectors transmits {name}?"
            pool = [v for v in vectors if v not in split_cell(r["not_vector"])]
            items.append(item("disease_vectors", unit, q, r["vector"], pool))
        if r["vector"] and carries[r["vector"]] == 1:
            vec = r["vector"]
            pool = [
                x["disease"]
                for x in rows
                if x["disease"] != name and vec not in split_cell(x["not_vector"]) + split_cell(x["also_vector"])
            ]
            borne = {x["disease"] for x in rows if x["vector"]}
            q = f"Which disease is transmitted by the {vec}?"
            items.append(item("disease_vectors", unit, q, name, pool, borne.__contains__))
    return items


# ---------------------------------------------------------------- nutrition and hormones


def nutrient_key(label: str) -> str:
    """The split key of a nutrient label: "vitamin B12 (cobalamin)" -> "vitamin B12"."""
    return label.split(" (")[0]


def nutrition_items() -> list[Item]:
    """Chemical names of vitamins and classic deficiency diseases, both directions."""
    vitamins, rows = read_table("vitamins"), read_table("deficiencies")
    for column in ("vitamin", "chemical_name"):
        require_unique(vitamins, column, "vitamins")
    require_unique(rows, "condition", "deficiencies")
    items = []
    for v in vitamins:
        unit = f"nutrient|{v['vitamin']}"
        q = f"{cap(v['chemical_name'])} is a chemical name for which vitamin?"
        items.append(item("nutrition", unit, q, cap(v["vitamin"]), [cap(x["vitamin"]) for x in vitamins]))
        q = f"Which of these is a chemical name for {v['vitamin']}?"
        items.append(item("nutrition", unit, q, v["chemical_name"], [x["chemical_name"] for x in vitamins]))
    labels = sorted({r["nutrient"] for r in rows})
    asked: set[tuple[str, str]] = set()
    for r in rows:
        unit, blocked = f"nutrient|{nutrient_key(r['nutrient'])}", set(split_cell(r["not_nutrients"]))
        q = f"Deficiency of which nutrient is classically linked to {r['condition']}?"
        pool = [cap(x) for x in labels if x not in blocked]
        items.append(item("nutrition", unit, q, cap(r["nutrient"]), pool))
        if (r["nutrient"], r["qualifier"]) in asked:
            continue
        asked.add((r["nutrient"], r["qualifier"]))
        pool = [
            x["condition"]
            for x in rows
            if x["nutrient"] != r["nutrient"] and r["nutrient"] not in split_cell(x["not_nutrients"])
        ]
        tail = f" {r['qualifier']}" if r["qualifier"] else ""
        q = f"Which condition is classically linked to {r['nutrient']} deficiency{tail}?"
        items.append(item("nutrition", unit, q, r["condition"], pool))
    return items


def hormone_items() -> list[Item]:
    """Source gland and main action (both directions) of hormones."""
    rows = read_table("hormones")
    require_unique(rows, "hormone", "hormones")
    require_unique(rows, "action", "hormones")
    blocked = symmetric({r["hormone"]: split_cell(r["not_hormones"]) for r in rows})
    sources = sorted({r["source"] for r in rows if r["source"]})
    action_of = {r["hormone"]: r["action"] for r in rows if r["action"]}
    items = []
    for r in rows:
        name, unit = r["hormone"], f"hormone|{r['hormone']}"
        if r["source"]:
            q = f"Which gland or organ secretes {name}?"
            pool = [s for s in sources if s not in split_cell(r["not_sources"])]
            items.append(item("hormones", unit, q, r["source"], pool))
        if not r["action"]:
            continue
        others = [h for h in (x["hormone"] for x in rows) if h != name and h not in blocked[name]]
        q = f"What is the main action of {name}?"
        pool = [cap(action_of[h]) for h in others if h in action_of]
        items.append(item("hormones", unit, q, cap(r["action"]), pool))
        q = f"Which hormone {r['action']}?"
        items.append(item("hormones", unit, q, name, others))
    return items


# ---------------------------------------------------------------- anatomy, physiology, terminology


def bone_verb(bone: str) -> str:
    """ "is" for one bone, "are" for a group (the metacarpals)."""
    return "are" if bone in PLURAL_BONES else "is"


def bone_items() -> list[Item]:
    """Body region of bones and their common names, both directions."""
    rows = read_table("bones")
    require_unique(rows, "bone", "bones")
    require_unique(rows, "common_name", "bones")
    regions = sorted({r["region"] for r in rows})
    region_of = {r["bone"]: r["region"] for r in rows}
    named = [r for r in rows if r["common_name"]]
    items = []
    for r in rows:
        unit, region = f"anatomy|{r['bone']}", r["region"]
        q = f"In which part of the body {bone_verb(r['bone'])} the {r['bone']} found?"
        pool = [x for x in regions if frozenset((x, region)) not in REGION_CONFLICTS]
        items.append(item("anatomy", unit, q, cap(region), [cap(p) for p in pool]))
        if not r["common_name"]:
            continue
        q = f"What is the common name for the {r['bone']}?"
        items.append(item("anatomy", unit, q, r["common_name"], [x["common_name"] for x in named]))
        q = f"Which bone is commonly called the {r['common_name']}?"
        pool = [x["bone"] for x in rows]
        items.append(item("anatomy", unit, q, r["bone"], pool, partial(maps_to, region_of, region)))
    return items


def organ_items() -> list[Item]:
    """ "Which body system includes the X?"."""
    rows = read_table("organs")
    require_unique(rows, "organ", "organs")
    items = []
    for r in rows:
        busy = {r["system"], *split_cell(r["not_systems"])}
        require(busy <= set(ORGAN_SYSTEMS), f"organs.csv: bad system for {r['organ']}")
        q = f"Which body system includes the {r['organ']}?"
        pool = [cap(s) for s in ORGAN_SYSTEMS if s not in busy]
        items.append(item("anatomy", f"anatomy|{r['organ']}", q, cap(r["system"]), pool))
    return items


def count_items() -> list[Item]:
    """ "How many ...?" with nearby numbers as wrong choices (never double or half the answer)."""
    rows = read_table("body_counts")
    require_unique(rows, "question", "body_counts")
    items = []
    for r in rows:
        n = int(r["answer"])
        near = [n + d for d in (-6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 8, 10) if n + d > 0]
        pool = [str(x) for x in near if x not in (2 * n, n / 2)]
        close = {str(x) for x in near if abs(x - n) <= max(2, n // 8)}
        items.append(
            item(
                "anatomy",
                f"anatomy|count {digest(r['question'])[:10]}",
                r["question"],
                str(n),
                pool,
                close.__contains__,
            )
        )
    return items


def physiology_items() -> list[Item]:
    """Main function of structures, both directions; wrong choices preferably from the same organ group."""
    rows = read_table("physiology")
    for column in ("structure", "function"):
        require_unique(rows, column, "physiology")
    blocked = symmetric({r["structure"]: split_cell(r["not_structures"]) for r in rows})
    group_of = {r["structure"]: r["group"] for r in rows}
    function_of = {r["structure"]: r["function"] for r in rows}
    items = []
    for r in rows:
        name, unit = r["structure"], f"anatomy|{r['structure']}"
        others = [s for s in group_of if s != name and s not in blocked[name]]
        near = {cap(function_of[s]) for s in others if group_of[s] == r["group"]}
        subject = name if name in NO_ARTICLE else f"the {name}"
        q = f"What is the main function of {subject}?"
        items.append(
            item("physiology", unit, q, cap(r["function"]), [cap(function_of[s]) for s in others], near.__contains__)
        )
        q = f"Which structure is mainly responsible for {r['function']}?"
        items.append(item("physiology", unit, q, name, others, partial(maps_to, group_of, r["group"])))
    return items


def terminology_items() -> list[Item]:
    """Meanings of word parts (prefixes, suffixes, roots) and of whole terms, both directions."""
    parts, terms = read_table("word_parts"), read_table("medical_terms")
    for column in ("part", "meaning"):
        require_unique(parts, column, "word_parts")
    for column in ("term", "meaning"):
        require_unique(terms, column, "medical_terms")
    items = []
    part_block = symmetric({r["part"]: split_cell(r["not_parts"]) for r in parts})
    for r in parts:
        same_kind = [
            x
            for x in parts
            if x["kind"] == r["kind"] and x["part"] != r["part"] and x["part"] not in part_block[r["part"]]
        ]
        unit = f"wordpart|{r['part']}"
        q = f"In medical terms, what does the {r['kind']} '{r['part']}' mean?"
        items.append(item("medical_terms", unit, q, cap(r["meaning"]), [cap(x["meaning"]) for x in same_kind]))
        q = f"Which {r['kind']} means '{r['meaning']}'?"
        items.append(item("medical_terms", unit, q, r["part"], [x["part"] for x in same_kind]))
    term_block = symmetric({r["term"]: split_cell(r["not_terms"]) for r in terms})
    parts_of = {r["term"]: set(split_cell(r["parts"])) for r in terms}
    meaning_of = {r["term"]: r["meaning"] for r in terms}
    for r in terms:
        name, unit = r["term"], f"term|{r['term']}"
        others = [t for t in parts_of if t != name and t not in term_block[name]]
        related = {t for t in others if parts_of[t] & parts_of[name]}
        q = f"What does the medical term '{name}' mean?"
        near = {cap(meaning_of[t]) for t in related}
        items.append(
            item("medical_terms", unit, q, cap(r["meaning"]), [cap(meaning_of[t]) for t in others], near.__contains__)
        )
        q = f"Which medical term means '{r['meaning']}'?"
        items.append(item("medical_terms", unit, q, name, others, related.__contains__))
    return items


# ---------------------------------------------------------------- computed questions


def fmt(x: float, dp: int = 2) -> str:
    """A number with at most ``dp`` decimals and no trailing zeros (0.25, 3, 12.5)."""
    text = f"{x:.{dp}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def half_up(x: float) -> int:
    """Round half away from zero (the way a clinician rounds), unlike Python's ``round``."""
    return math.floor(x + 0.5)


def numeric_item(
    topic: str, unit: str, question: str, answer: str, wrong: Iterable[str], rng: random.Random
) -> Item | None:
    """An item from computed wrong answers: three distinct ones that differ from the answer, or None."""
    pool = sorted({w for w in wrong if w != answer})
    if len(pool) < N_CHOICES - 1:
        return None
    return Item(topic, unit, question, answer, tuple(rng.sample(pool, N_CHOICES - 1)))


def collect(name: str, n: int, make: Callable[[random.Random], Item | None], attempts: int = 20000) -> list[Item]:
    """Up to ``n`` items with distinct units from repeated calls of ``make`` (deterministic)."""
    rng = unit_rng("computed", name)
    out: list[Item] = []
    seen: set[str] = set()
    for _ in range(attempts):
        if len(out) == n:
            break
        it = make(rng)
        if it is not None and it.unit not in seen:
            seen.add(it.unit)
            out.append(it)
    require(len(out) == n, f"computed {name}: only {len(out)} of {n} items")
    return out


def bmi_items() -> list[Item]:
    """BMI values and WHO adult BMI categories; the two kinds never share a (weight, height) pair."""

    def value(rng: random.Random) -> Item | None:
        w, h = rng.randint(45, 130), rng.randint(150, 195) / 100
        bmi = w / h**2
        answer = f"{bmi:.1f} kg/m²"
        wrong_values = [w / h, w / (2 * h), w / (h + 0.1) ** 2, w / (h - 0.1) ** 2, (w + 10) / h**2, (w - 10) / h**2]
        wrong = [f"{x:.1f} kg/m²" for x in wrong_values if abs(x - bmi) >= 0.5]
        q = f"An adult weighs {w} kg and is {h:.2f} m tall. What is their body mass index (BMI)?"
        return numeric_item("bmi", f"bmi|{w}|{h:.2f}", q, answer, wrong, rng)

    def category(rng: random.Random) -> Item | None:
        h = rng.randint(150, 195) / 100
        w = round(rng.uniform(15.0, 42.0) * h**2)
        bmi = w / h**2
        if any(abs(bmi - c) < 0.3 for c in BMI_CUTOFFS):
            return None
        answer = BMI_CATEGORIES[sum(bmi >= c for c in BMI_CUTOFFS)]
        q = f"An adult weighs {w} kg and is {h:.2f} m tall. Which WHO adult BMI category applies?"
        return Item("bmi", f"bmi|{w}|{h:.2f}", q, answer, tuple(c for c in BMI_CATEGORIES if c != answer))

    values = collect("bmi-value", 80, value)
    taken = {i.unit for i in values}

    def fresh_category(rng: random.Random) -> Item | None:
        it = category(rng)
        return it if it is not None and it.unit not in taken else None

    return values + collect("bmi-category", 40, fresh_category)


def dose_items() -> list[Item]:
    """Weight-based doses, divided daily doses, tablet counts and liquid volumes."""

    def single(rng: random.Random) -> Item | None:
        child = rng.random() < 0.5
        w = rng.randint(5, 40) if child else rng.randint(45, 110)
        d = rng.choice((2, 5, 10, 15, 20, 25, 30, 40, 50) if child else (1, 2, 3, 5, 10, 15))
        dose = d * w
        wrong = [f"{fmt(x, 1)} mg" for x in (dose * 2.2, dose / 2.2, dose * 10, dose / 10)]
        q = f"A patient weighing {w} kg is prescribed a drug at {d} mg/kg as a single dose. What dose should be given?"
        return numeric_item("dose_calculation", f"dose|single|{w}|{d}", q, f"{dose} mg", wrong, rng)

    def divided(rng: random.Random) -> Item | None:
        w, d, n = rng.randint(5, 40), rng.choice((20, 30, 40, 45, 50, 60, 75, 80, 90, 100)), rng.choice((2, 3, 4))
        total = d * w
        if total % n:
            return None
        each = total // n
        wrong = [f"{fmt(x, 1)} mg" for x in (total, total * n, each / 2, each * 2)]
        q = (
            f"A child weighing {w} kg is prescribed {d} mg/kg/day, given in {n} equally divided doses. "
            "How much is each dose?"
        )
        return numeric_item("dose_calculation", f"dose|divided|{w}|{d}|{n}", q, f"{each} mg", wrong, rng)

    def tablets_text(k: float) -> str:
        return f"{fmt(k, 1)} tablet" + ("" if k <= 1 else "s")

    def tablets(rng: random.Random) -> Item | None:
        s = rng.choice((5, 10, 20, 25, 40, 50, 100, 200, 250, 500))
        k = rng.choice((0.5, 1, 1.5, 2, 2.5, 3, 4))
        dose = s * k
        if dose != int(dose):
            return None
        cands = (2 * k, k / 2, k + 1, k - 1, k + 0.5, k - 0.5, 1 / k, k + 2)
        wrong = [tablets_text(c) for c in cands if c > 0 and float(2 * c).is_integer()]
        q = f"A patient is prescribed {int(dose)} mg. The tablets available contain {s} mg each. How many tablets should be given?"
        return numeric_item("dose_calculation", f"dose|tablets|{int(dose)}|{s}", q, tablets_text(k), wrong, rng)

    def liquid(rng: random.Random) -> Item | None:
        c, v = rng.choice(((125, 5), (250, 5), (100, 5), (200, 5), (50, 5), (10, 1), (20, 1), (40, 1), (500, 10)))
        vol = rng.randint(1, 40) / 2
        dose = vol * c / v
        if dose != int(dose) or dose <= 0:
            return None
        wrong = [f"{fmt(x, 1)} mL" for x in (c * v / dose, dose / c, vol * 2, vol / 2, vol * 10)]
        q = f"A dose of {int(dose)} mg is prescribed. The oral suspension contains {c} mg in {v} mL. What volume should be given?"
        return numeric_item("dose_calculation", f"dose|liquid|{int(dose)}|{c}|{v}", q, f"{fmt(vol, 1)} mL", wrong, rng)

    return (
        collect("dose-single", 40, single)
        + collect("dose-divided", 40, divided)
        + collect("dose-tablets", 40, tablets)
        + collect("dose-liquid", 40, liquid)
    )


def infusion_items() -> list[Item]:
    """Pump rates (mL/h), gravity drip rates (drops/min) and drug infusion rates."""

    def pump(rng: random.Random) -> Item | None:
        vol = rng.choice((100, 200, 250, 300, 400, 500, 600, 750, 800, 1000, 1200, 1500, 2000))
        t = rng.choice((1, 2, 3, 4, 5, 6, 8, 10, 12, 24))
        if vol % t:
            return None
        rate = vol // t
        wrong = [f"{fmt(x, 1)} mL/h" for x in (vol / (60 * t), 2 * rate, rate / 2, vol * t)]
        q = f"{vol} mL of intravenous fluid is to be infused over {t} hour{'s' if t > 1 else ''}. At what rate should the pump be set?"
        return numeric_item("infusion_rate", f"infusion|pump|{vol}|{t}", q, f"{rate} mL/h", wrong, rng)

    def drip(rng: random.Random) -> Item | None:
        vol = rng.choice((250, 500, 750, 1000, 1500, 2000))
        t, df = rng.choice((2, 3, 4, 5, 6, 8, 10, 12)), rng.choice((10, 15, 20, 60))
        if (vol * df) % (60 * t):
            return None
        rate = vol * df // (60 * t)
        wrong = [f"{fmt(x, 1)} drops/min" for x in (vol / (60 * t), vol * df / t, 2 * rate, rate / 2)]
        q = (
            f"{vol} mL is to be given over {t} hours through a giving set that delivers {df} drops per mL. "
            "What drip rate is needed?"
        )
        return numeric_item("infusion_rate", f"infusion|drip|{vol}|{t}|{df}", q, f"{rate} drops/min", wrong, rng)

    def drug(rng: random.Random) -> Item | None:
        mg, ml = rng.choice((50, 100, 200, 250, 500, 1000)), rng.choice((50, 100, 250, 500))
        r = rng.choice((2, 4, 5, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 100))
        rate = r * ml / mg
        if (10 * rate) != int(10 * rate) or not 0.5 <= rate <= 500:
            return None
        wrong = [f"{fmt(x, 1)} mL/h" for x in (r * mg / ml, r / ml, rate * 2, rate / 2, rate * 10)]
        q = f"An infusion contains {mg} mg of a drug in {ml} mL. The prescribed dose is {r} mg/h. At what rate should it run?"
        return numeric_item("infusion_rate", f"infusion|drug|{mg}|{ml}|{r}", q, f"{fmt(rate, 1)} mL/h", wrong, rng)

    def per_kg(rng: random.Random) -> Item | None:
        r, w = rng.choice((1, 2, 2.5, 3, 4, 5, 10)), rng.randint(10, 24) * 5
        mg, ml = rng.choice(((200, 50), (400, 250), (50, 50), (250, 250), (800, 500), (100, 100)))
        rate = r * w * 60 / 1000 / (mg / ml)
        if (10 * rate) != int(10 * rate):
            return None
        wrong = [f"{fmt(x, 2)} mL/h" for x in (rate / 60, rate * 1000, rate * 2, rate / 2)]
        q = (
            f"A drug is ordered at {fmt(r, 1)} micrograms/kg/min for a patient weighing {w} kg. The infusion contains "
            f"{mg} mg in {ml} mL. At what rate (mL/h) should it run?"
        )
        return numeric_item("infusion_rate", f"infusion|perkg|{r}|{w}|{mg}|{ml}", q, f"{fmt(rate, 1)} mL/h", wrong, rng)

    return (
        collect("infusion-pump", 35, pump)
        + collect("infusion-drip", 35, drip)
        + collect("infusion-drug", 35, drug)
        + collect("infusion-perkg", 35, per_kg)
    )


def conversion_items() -> list[Item]:
    """Mass units, pounds and kilograms, temperature scales and height."""
    mass_units = (("mg", "g", 1000), ("g", "mg", 1 / 1000), ("micrograms", "mg", 1000), ("mg", "micrograms", 1 / 1000))
    unit_words = {"g": "grams", "mg": "milligrams", "micrograms": "micrograms"}

    def mass(rng: random.Random) -> Item | None:
        src, dst, div = rng.choice(mass_units)
        x: float = rng.choice(
            (5, 10, 20, 25, 50, 75, 100, 125, 150, 200, 250, 300, 400, 500, 600, 750, 1500, 2500, 5000)
        )
        if div < 1:
            x = x / 1000
        y = x / div
        wrong = [f"{fmt(v, 6)} {dst}" for v in (x * div, y * 10, y / 10, y * 100, y / 100)]
        q = f"Convert {fmt(x, 6)} {src} to {unit_words[dst]}."
        return numeric_item(
            "unit_conversion", f"conversion|mass|{fmt(x, 6)}|{src}|{dst}", q, f"{fmt(y, 6)} {dst}", wrong, rng
        )

    def pounds(rng: random.Random) -> Item | None:
        if rng.random() < 0.5:
            kg = 5 * rng.randint(1, 30)
            lb = 11 * kg // 5
            wrong = [f"{fmt(v, 1)} kg" for v in (lb * 2.2, lb / 2, kg + 10, kg - 10) if v > 0]
            q = f"Using 1 kg = 2.2 lb, what is {lb} lb in kilograms?"
            return numeric_item("unit_conversion", f"conversion|lb2kg|{lb}", q, f"{kg} kg", wrong, rng)
        kg = rng.randint(3, 150)
        wrong = [f"{fmt(v, 1)} lb" for v in (kg / 2.2, kg * 2, kg + 22, kg * 2.2 + 10)]
        q = f"Using 1 kg = 2.2 lb, what is {kg} kg in pounds?"
        return numeric_item("unit_conversion", f"conversion|kg2lb|{kg}", q, f"{fmt(kg * 2.2, 1)} lb", wrong, rng)

    def temperature(rng: random.Random) -> Item | None:
        if rng.random() < 0.5:
            f = rng.randint(950, 1060) / 10
            c = (f - 32) * 5 / 9
            if abs(c * 10 - half_up(c * 10)) > 0.45:
                return None  # too close to a rounding boundary
            wrong = [f"{v:.1f} °C" for v in ((f - 32) * 9 / 5, f * 5 / 9, (f - 30) / 2, f - 32)]
            q = f"Convert {f:.1f} °F to degrees Celsius, to one decimal place."
            return numeric_item(
                "unit_conversion", f"conversion|f2c|{f:.1f}", q, f"{half_up(c * 10) / 10:.1f} °C", wrong, rng
            )
        c = rng.randint(340, 420) / 10
        f = c * 9 / 5 + 32
        wrong = [f"{v:.1f} °F" for v in (c * 5 / 9 + 32, c * 9 / 5, (c + 32) * 9 / 5, c * 2 + 30)]
        q = f"Convert {c:.1f} °C to degrees Fahrenheit, to one decimal place."
        return numeric_item(
            "unit_conversion", f"conversion|c2f|{c:.1f}", q, f"{half_up(f * 10) / 10:.1f} °F", wrong, rng
        )

    def height(rng: random.Random) -> Item | None:
        ft, inch = rng.randint(4, 6), rng.randint(0, 11)
        total = 12 * ft + inch
        if not 54 <= total <= 78:
            return None
        cm = total * 2.54
        wrong = [f"{v:.1f} cm" for v in (total / 2.54, (10 * ft + inch) * 2.54, total * 2.2, cm + 10)]
        q = f"Using 1 inch = 2.54 cm, what is a height of {ft} ft {inch} in in centimeters, to one decimal place?"
        return numeric_item("unit_conversion", f"conversion|height|{ft}|{inch}", q, f"{cm:.1f} cm", wrong, rng)

    return (
        collect("conv-mass", 45, mass)
        + collect("conv-pounds", 40, pounds)
        + collect("conv-temp", 45, temperature)
        + collect("conv-height", 20, height)
    )


def creatinine_items() -> list[Item]:
    """Cockcroft-Gault creatinine clearance: (140 - age) x weight / (72 x creatinine), x 0.85 if female."""

    def make(rng: random.Random) -> Item | None:
        age, w, cr = rng.randint(20, 90), rng.randint(40, 120), rng.randint(6, 30) / 10
        female = rng.random() < 0.5
        base = (140 - age) * w / (72 * cr)
        value = base * 0.85 if female else base
        if abs(value - math.floor(value) - 0.5) < 0.05:
            return None  # too close to a rounding boundary
        answer = half_up(value)
        mistakes = [
            base if female else base * 0.85,  # sex factor applied wrongly
            base / 0.85 if female else base * 1.15,
            (140 - age) * w * cr / 72 * (0.85 if female else 1),  # multiplied by creatinine
            (140 - age) / cr,  # left out weight and the constant
        ]
        wrong = [f"{half_up(m)} mL/min" for m in mistakes if abs(half_up(m) - answer) >= 3 and m > 0]
        sex = "woman" if female else "man"
        q = (
            f"A {age}-year-old {sex} weighing {w} kg has a serum creatinine of {cr:.1f} mg/dL. Using the "
            "Cockcroft-Gault equation, what is the estimated creatinine clearance (to the nearest whole number)?"
        )
        return numeric_item("creatinine_clearance", f"crcl|{age}|{w}|{cr:.1f}|{sex}", q, f"{answer} mL/min", wrong, rng)

    return collect("crcl", 80, make)


GCS_EYES = {
    4: "opens their eyes spontaneously",
    3: "opens their eyes to sound",
    2: "opens their eyes only to pressure",
    1: "does not open their eyes",
}
GCS_VERBAL = {
    5: "is oriented",
    4: "is confused",
    3: "says only inappropriate words",
    2: "makes only incomprehensible sounds",
    1: "makes no verbal response",
}
GCS_MOTOR = {
    6: "obeys commands",
    5: "localizes to pain",
    4: "withdraws from pain",
    3: "shows abnormal flexion to pain",
    2: "shows extension to pain",
    1: "makes no motor response",
}


def maintenance_rate(w: int) -> int:
    """Hourly maintenance fluid by the 4-2-1 rule (mL/h)."""
    return 4 * min(w, 10) + 2 * min(max(w - 10, 0), 10) + max(w - 20, 0)


def clinical_items() -> list[Item]:
    """MAP, anion gap, corrected calcium, GCS, pack-years, 4-2-1 maintenance fluid and Parkland volumes."""

    def mean_arterial(rng: random.Random) -> Item | None:
        dbp = rng.randint(50, 120)
        sbp = dbp + 3 * rng.randint(7, 30)
        if sbp > 220:
            return None
        pp = sbp - dbp
        wrong = [f"{fmt(v, 1)} mmHg" for v in ((sbp + dbp) / 2, pp, dbp + 2 * pp / 3, sbp - pp / 2)]
        q = f"A patient's blood pressure is {sbp}/{dbp} mmHg. What is the estimated mean arterial pressure?"
        return numeric_item(
            "clinical_calculations", f"clinical|map|{sbp}|{dbp}", q, f"{dbp + pp // 3} mmHg", wrong, rng
        )

    def anion_gap(rng: random.Random) -> Item | None:
        na, cl, hco3 = rng.randint(128, 150), rng.randint(90, 115), rng.randint(8, 32)
        gap = na - (cl + hco3)
        if not 4 <= gap <= 40:
            return None
        wrong = [f"{v} mmol/L" for v in (na - cl, na - cl + hco3, gap + 4, gap - 4) if v > 0]
        q = (
            f"Serum sodium is {na} mmol/L, chloride {cl} mmol/L and bicarbonate {hco3} mmol/L. "
            "What is the anion gap (calculated without potassium)?"
        )
        return numeric_item("clinical_calculations", f"clinical|gap|{na}|{cl}|{hco3}", q, f"{gap} mmol/L", wrong, rng)

    def calcium(rng: random.Random) -> Item | None:
        ca, alb = rng.randint(60, 105) / 10, rng.choice((1.5, 2.0, 2.5, 3.0, 3.5))
        value = ca + 0.8 * (4.0 - alb)
        wrong = [f"{v:.1f} mg/dL" for v in (ca + (4.0 - alb), ca - 0.8 * (4.0 - alb), ca + 0.8 * alb)]
        q = (
            f"Serum calcium is {ca:.1f} mg/dL and serum albumin is {alb:.1f} g/dL. Using the standard formula, "
            "what is the albumin-corrected calcium?"
        )
        return numeric_item(
            "clinical_calculations", f"clinical|calcium|{ca:.1f}|{alb:.1f}", q, f"{value:.1f} mg/dL", wrong, rng
        )

    def coma_scale(rng: random.Random) -> Item | None:
        e, v, m = rng.randint(1, 4), rng.randint(1, 5), rng.randint(1, 6)
        total = e + v + m
        wrong = [str(x) for x in (total - 2, total - 1, total + 1, total + 2, e + v, e + m, v + m) if 3 <= x <= 15]
        q = f"A patient {GCS_EYES[e]}, {GCS_VERBAL[v]} and {GCS_MOTOR[m]}. What is the Glasgow Coma Scale score?"
        return numeric_item("clinical_calculations", f"clinical|gcs|{e}|{v}|{m}", q, str(total), wrong, rng)

    def pack_years(rng: random.Random) -> Item | None:
        per_day, years = rng.choice((5, 10, 15, 20, 25, 30, 40, 50, 60)), rng.randint(2, 60)
        if (per_day * years) % 10:
            return None
        value = per_day * years / 20
        wrong = [
            f"{fmt(x, 2)} pack-years" for x in (per_day * years, per_day * years / 10, years, value * 2, value / 2)
        ]
        q = f"A patient has smoked {per_day} cigarettes a day for {years} years. How many pack-years is this (1 pack = 20 cigarettes)?"
        return numeric_item(
            "clinical_calculations", f"clinical|packs|{per_day}|{years}", q, f"{fmt(value, 2)} pack-years", wrong, rng
        )

    def maintenance(rng: random.Random) -> Item | None:
        w = rng.randint(3, 80)
        rate = maintenance_rate(w)
        daily = 100 * min(w, 10) + 50 * min(max(w - 10, 0), 10) + 20 * max(w - 20, 0)
        cands = [4 * w, 2 * w, rate + 10, rate - 10, daily, 40 + 2 * (w - 10) if w > 20 else 4 * w + 10]
        wrong = [f"{x} mL/h" for x in cands if x > 0]
        q = f"Using the 4-2-1 rule, what is the hourly maintenance intravenous fluid rate for a patient weighing {w} kg?"
        return numeric_item("clinical_calculations", f"clinical|fluids|{w}", q, f"{rate} mL/h", wrong, rng)

    def parkland(rng: random.Random) -> Item | None:
        w, burn = rng.randint(40, 110), rng.randint(10, 60)
        total = 4 * w * burn
        wrong = [f"{fmt(x, 1)} mL" for x in (total, w * burn, total / 3, total / 16)]
        q = (
            f"An adult weighing {w} kg has burns covering {burn}% of the total body surface area. Using the "
            "Parkland formula, how much fluid should be given in the first 8 hours after the burn?"
        )
        return numeric_item("clinical_calculations", f"clinical|parkland|{w}|{burn}", q, f"{total // 2} mL", wrong, rng)

    makers = (
        ("map", mean_arterial, 30),
        ("gap", anion_gap, 30),
        ("calcium", calcium, 30),
        ("gcs", coma_scale, 45),
        ("packs", pack_years, 30),
        ("fluids", maintenance, 30),
        ("parkland", parkland, 30),
    )
    return [it for name, make, n in makers for it in collect(f"clinical-{name}", n, make)]


# ---------------------------------------------------------------- building


def merge_units(items: list[Item], links: Iterable[tuple[str, ...]]) -> list[Item]:
    """Give every group of linked units one canonical unit (the smallest name), so they split together."""
    known = {i.unit for i in items}
    parent = {u: u for u in known}

    def find(u: str) -> str:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for group in links:
        missing = [u for u in group if u not in known]
        require(not missing, f"linked units that no question uses: {missing}")
        for u in group[1:]:
            a, b = sorted((find(group[0]), find(u)))
            parent[b] = a
    return [replace(i, unit=find(i.unit), entity=i.unit) for i in items]


def load_items() -> list[Item]:
    """Validate the tables and turn them (and the calculators) into questions."""
    drugs, classes, excl, condition_area = load_drugs()
    mechanisms, links = mechanism_items(drugs, classes, excl)
    items = [
        *drug_class_items(drugs, classes, excl),
        *drug_indication_items(drugs, condition_area),
        *mechanisms,
        *stem_items(),
        *adverse_items(),
        *disease_items(),
        *infection_items(),
        *nutrition_items(),
        *hormone_items(),
        *bone_items(),
        *organ_items(),
        *count_items(),
        *physiology_items(),
        *terminology_items(),
        *bmi_items(),
        *dose_items(),
        *infusion_items(),
        *conversion_items(),
        *creatinine_items(),
        *clinical_items(),
    ]
    return merge_units(items, [*UNIT_LINKS, *links])


# ---------------------------------------------------------------- checks and output


def check_items(items: list[Item]) -> list[str]:
    """Problems with the generated items themselves (topics, repeated questions, wrong choices)."""
    problems = [f"unknown topic {t!r}" for t in sorted({i.topic for i in items} - set(TOPICS))]
    problems += [f"question generated twice: {q}" for q in sorted(taskgen.repeated(i.question for i in items))]
    for it in items:
        texts = [it.answer, *it.distractors]
        if len(texts) != N_CHOICES or len({t.casefold() for t in texts}) != N_CHOICES:
            problems.append(f"choices are not {N_CHOICES} distinct texts: {it.question} {texts}")
    return problems


COMPUTED_GROUPS = frozenset({"bmi", "dose", "infusion", "conversion", "crcl", "clinical"})


def mentions(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words (case-insensitive)."""
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase.lower())}(?![a-z0-9])", text.lower()) is not None


def check_pairs(items: list[Item], held_out: set[str]) -> list[str]:
    """Fact questions in eval whose subject (an entity of their unit named in the question) appears together
    with their right answer in some train question or answer: a leak through another entity or table."""
    names: dict[str, set[str]] = defaultdict(set)
    for it in items:
        names[it.unit].add(it.entity.split("|", 1)[1])
    train = [
        f"{i.question} || {i.answer}".lower()
        for i in items
        if i.unit not in held_out and i.unit.split("|", 1)[0] not in COMPUTED_GROUPS
    ]
    problems = []
    for it in items:
        if it.unit not in held_out or it.unit.split("|", 1)[0] in COMPUTED_GROUPS:
            continue
        answer = it.answer.lower()
        for name in names[it.unit]:
            if len(name) < 4 or mentions(name, answer) or mentions(answer, name) or not mentions(it.question, name):
                continue
            hits = [t for t in train if answer in t and name.lower() in t and mentions(t, name) and mentions(t, answer)]
            problems += [f"eval {it.question!r} -> {it.answer!r} is given by train {t!r}" for t in hits]
    return problems


def leakage_summary(train: Records, evals: Records, units: dict[str, str]) -> list[str]:
    """What the checks verified, with numbers, for the card."""
    train_u = {units[q] for q in taskgen.questions(train)}
    eval_u = {units[q] for q in taskgen.questions(evals)}
    computed = {u for u in train_u | eval_u if u.split("|", 1)[0] in COMPUTED_GROUPS}
    fact_eval = len(eval_u - computed)
    pos_text = f"train {taskgen.positions_text(train)}; eval {taskgen.positions_text(evals)}"
    return [
        f"0 of {len(evals)} eval question strings appear in train; no question repeats within a split",
        f"split by entity: {len(train_u)} train units and {len(eval_u)} eval units, 0 shared; a unit is one entity "
        "(drug, drug class, name stem, disease, infection, nutrient, hormone, anatomical structure, term) with all "
        "its relations and question templates, merged with entities that name the same thing or state the same "
        "fact (a drug and the hormone it is, a class and its example drug, a term and the disease it names); "
        f"{fact_eval} eval fact units",
        "no train question or answer names an eval question's subject together with that question's right answer "
        "(checked on the text of every eval fact question)",
        f"computed questions: {len(computed & eval_u)} eval parameter sets, none used in train",
        f"all {len(train) + len(evals)} examples have {N_CHOICES} distinct choices and a valid 0-based answer index",
        "wrong choices never equal or duplicate the answer and exclude values listed as also correct in the tables",
        f"answer position balanced over A-D within each split and topic (max-min <= 1): {pos_text}",
    ]


def main() -> int:
    items = load_items()
    problems = check_items(items)
    if problems:
        return taskgen.print_problems(problems)
    units = {i.question: i.unit for i in items}
    held_out = taskgen.eval_units(items, SEED, EVAL_FRACTION)
    train, evals = taskgen.split_records(items, held_out, seed=SEED, topics=TOPICS, prefix="med")
    problems = taskgen.split_problems(train, evals, units, balance_topics=TOPICS) + check_pairs(items, held_out)
    if problems:
        return taskgen.print_problems(problems)
    leakage = leakage_summary(train, evals, units)
    taskgen.write_task(
        TASK_DIR, train, evals, taskgen.card_text("medical_qa", DESCRIPTION, SOURCE, train, evals, TOPICS, leakage)
    )
    taskgen.report(train, evals, TOPICS, width=24)
    print("checks passed:\n" + "\n".join(f"- {c}" for c in leakage))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
