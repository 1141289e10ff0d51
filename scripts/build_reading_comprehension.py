"""Build the bundled ``reading_comprehension`` multiple-choice task from fictional passages.

Every passage is about a made-up subject (a small town, a company, a scientist, a museum, a sports
club, a shipwreck, a festival or a research expedition). Its facts (names, places, years, numbers,
reasons, lists) are drawn at random from the word lists below and written out through one of three
passage templates per subject, so each question can only be answered by reading the passage. Each
passage carries one to three questions, and each question is one example with the passage repeated
in ``context``. Standard library only; the output is byte-identical from one run to the next (every
random choice comes from a ``random.Random`` seeded with a string).

Question topics:
- ``lookup_who``, ``lookup_what``, ``lookup_where``, ``lookup_when``: one stated fact.
- ``numbers``: a stated count.
- ``event_order``: which of four dated events came first (or last). The four years are drawn
  independently, so common sense cannot order them.
- ``arithmetic``: a difference of two stated years or a sum or difference of two stated counts.
- ``cause``: the reason the passage gives for an event.
- ``negation``: which of four items is NOT in a list the passage gives.

Wrong choices have the answer's type and come from the same passage where it has enough of them
(other people, places, years, counts, reasons), then from the word lists; they never equal the
answer, never repeat, and never appear in the question. The right answer's position is balanced over
A-D within each split and topic.

Leakage: train and eval passages are drawn from disjoint seeds; an eval passage is dropped if its text
equals a train passage or if any of its (question, answer) pairs also occurs in train.

Run it from the repository root: ``python3 scripts/build_reading_comprehension.py``. It writes
``train.jsonl``, ``eval.jsonl`` and ``card.yaml`` in ``src/damoc/bundled_tasks/reading_comprehension/``,
prints counts per topic and exits non-zero if a check fails.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

TASK_DIR = Path(__file__).resolve().parent.parent / "src" / "damoc" / "bundled_tasks" / "reading_comprehension"
SEED = "damoc-reading-comprehension-v1"
SIZES = {"train": 2400, "eval": 600}
N_CHOICES = 4
MIN_WORDS, MAX_WORDS = 60, 140
QUESTIONS_PER_PASSAGE = (1, 2, 2, 3, 3)  # drawn uniformly: 2.2 questions per passage on average

TOPICS = (
    "lookup_who",
    "lookup_what",
    "lookup_where",
    "lookup_when",
    "numbers",
    "event_order",
    "arithmetic",
    "cause",
    "negation",
)

DESCRIPTION = (
    "English multiple-choice reading comprehension (four choices, one right answer). Each example has a "
    "short passage (60-140 words) in `context` about a fictional subject - a small town, a company, a "
    "scientist, a museum, a sports club, a shipwreck, a festival or a research expedition - and a question "
    "that can only be answered from it: who/what/where/when look-ups, stated numbers, which of four dated "
    "events came first or last, simple arithmetic over two stated numbers, the stated reason for an event, "
    "and which item is NOT mentioned in a list. The facts are drawn at random from hand-written word lists "
    "and rendered through several passage templates, so world knowledge cannot help and every answer is "
    "checked against the passage. Wrong choices have the answer's type and, where the passage has them, are "
    "other people, places, years, numbers, items or reasons from the same passage. A passage carries one to "
    "three questions; the train and eval splits share no passage and no (question, answer) pair."
)

# ---------------------------------------------------------------- word lists

FIRST_F = (
    "Agnes", "Amara", "Beatrix", "Clara", "Dalia", "Edith", "Esme", "Freya", "Greta", "Harriet", "Helena",
    "Ilse", "Imogen", "Ingrid", "Keiko", "Lena", "Leonie", "Lucia", "Mara", "Marta", "Nadia", "Noor",
    "Ottilie", "Priya", "Renata", "Rosalind", "Sofia", "Thea", "Tova", "Vera", "Yara", "Zofia",
)  # fmt: skip
FIRST_M = (
    "Ambrose", "Anselm", "Arjun", "Bruno", "Casimir", "Conrad", "Declan", "Edwin", "Emil", "Felix", "Henrik",
    "Ivo", "Jonas", "Julian", "Kenji", "Lorenzo", "Lucien", "Matthias", "Milo", "Nikolai", "Oskar", "Otto",
    "Rafael", "Rowan", "Silas", "Stellan", "Tobias", "Tomas", "Viktor", "Walter", "Yusuf", "Zoltan",
)  # fmt: skip
SURNAMES = (
    "Abernethy", "Adebayo", "Brannigan", "Castellan", "Corvin", "Drummond", "Dunmore", "Eastlake", "Ellison",
    "Fairweather", "Ferreira", "Galloway", "Gorski", "Halloran", "Haverford", "Hollis", "Ibarra", "Ishikawa",
    "Jansen", "Kalnins", "Kettering", "Kowal", "Larkin", "Lindqvist", "Lowell", "Marsh", "Mendoza",
    "Merriweather", "Nakagawa", "Novak", "Okafor", "Orloff", "Oyelaran", "Pemberton", "Petrakis", "Quill",
    "Radcliffe", "Rasmussen", "Renwick", "Sandoval", "Sorensen", "Tamura", "Thornbury", "Tiller", "Ulrich",
    "Underhill", "Vance", "Varga", "Vasquez", "Vossberg", "Whitlock", "Winslow", "Yilmaz", "Zeller",
)  # fmt: skip
TOWN_STEMS = (
    "Arl", "Bex", "Brann", "Carrow", "Dray", "Elsk", "Fallow", "Gorran", "Hest", "Ivel", "Kell", "Lorn",
    "Mird", "Nesk", "Orr", "Pell", "Quen", "Rusk", "Sarn", "Tav", "Ulver", "Vell", "Wend", "Yarrow",
)  # fmt: skip
TOWN_ENDINGS = ("bury", "ford", "mouth", "wick", "stead", "holm", "by", "dale", "haven", "mere", "ton", "brook")
TOWNS = tuple(sorted(stem + end for stem in TOWN_STEMS for end in TOWN_ENDINGS))
RIVERS = (
    "Ambry", "Brenn", "Corran", "Dorn", "Ferrin", "Galla", "Hesper", "Karrow", "Lisk", "Maddow", "Nessa",
    "Sevren", "Tolla", "Ulla", "Wendle",
)  # fmt: skip
REGIONS = (
    "the Orsk Plateau", "the Tarn Islands", "the Vell Glacier", "the Kessary Highlands", "the Sarrow Desert",
    "the Limmen Delta", "Cape Halvard", "the Brannoch Caves", "the Isle of Merrow", "the Duskwater Fens",
    "the Calder Sound", "the Ostry Peninsula", "the Hallan Marshes", "the Pellin Archipelago",
    "the Tolvar Ridge", "the Greywater Basin",
)  # fmt: skip
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip

# town
TRADES = (
    "a miller", "a wool merchant", "a ferryman", "a blacksmith", "a retired sea captain", "a clockmaker",
    "a brewer", "a stonemason", "a weaver", "a timber merchant",
)  # fmt: skip
LANDMARKS = (
    "public library", "cottage hospital", "swimming baths", "reading room", "town hall", "music hall",
    "fire station", "covered market", "grammar school",
)  # fmt: skip
TOWN_GOODS = (
    "cheese", "pottery", "cider", "honey", "lace", "rope", "woollen blankets", "copper pans", "wicker baskets",
    "oak furniture", "smoked fish", "slate roof tiles", "glassware", "leather boots",
)  # fmt: skip
BRIDGE_REASONS = (
    "the old ferry could no longer carry the growing wool trade",
    "a winter flood had swept away the wooden footbridge",
    "farmers on the far bank needed a safe way to market",
    "the county wanted a faster road to the coast",
    "carts kept getting stuck at the muddy ford",
)
RAIL_REASONS = (
    "the nearby quarries needed a way to ship their stone",
    "a paper mill had opened beside the river",
    "local farmers had asked for a faster route to market",
    "the county council wanted a line along the valley",
    "the brewery offered to pay for part of the line",
)

# company
INDUSTRIES = {
    "Instruments": (
        "barometers", "ship's compasses", "rain gauges", "pocket thermometers", "brass telescopes",
        "surveying levels", "sundials", "weather vanes",
    ),
    "Textiles": (
        "woollen blankets", "linen tablecloths", "canvas sails", "felt hats", "cotton shirts", "silk scarves",
        "tweed jackets", "knitted socks",
    ),
    "Toyworks": (
        "wooden trains", "rocking horses", "tin robots", "jigsaw puzzles", "spinning tops", "dolls' houses",
        "paper kites", "marionettes",
    ),
    "Cycles": (
        "bicycle lamps", "racing bicycles", "delivery tricycles", "tandem bicycles", "leather saddles",
        "cycling helmets", "folding bicycles", "bicycle bells",
    ),
    "Preserves": (
        "plum jam", "pickled onions", "oat biscuits", "mustard", "tinned peaches", "lemon curd",
        "fruit cordial", "apple chutney",
    ),
    "Ceramics": (
        "teapots", "floor tiles", "flower pots", "dinner plates", "washbasins", "vases", "coffee mugs",
        "roof tiles",
    ),
    "Lighting": (
        "oil lamps", "street lanterns", "desk lamps", "ship's lanterns", "chandeliers", "miners' lamps",
        "candle holders", "lampshades",
    ),
}  # fmt: skip
BRANDS = (
    "Alder", "Beacon", "Copperfield", "Kestrel", "Larkspur", "Meridian", "Northwind", "Oriel", "Quayside",
    "Redwing", "Silverbirch", "Tidewater", "Wrenfield", "Foxglove", "Harbourlight", "Juniper", "Marigold",
    "Bellwether", "Hollybank", "Starling",
)  # fmt: skip
MOVE_REASONS = (
    "its first workshop had become too small",
    "the rent in its home town had doubled",
    "a new railway line made shipping easier from there",
    "a fire had destroyed its first workshop",
    "its biggest customer was based there",
)
FACTORY_REASONS = (
    "orders from abroad had tripled",
    "the main works could not keep up with demand",
    "the regional council offered cheap land",
    "many skilled workers lived in the area",
    "a new canal made it easy to bring in raw materials",
)

# scientist
FIELDS = {
    "botanist": (
        "botany",
        ("a new species of moss", "a fern that grows only on limestone", "a lily that flowers at night",
         "a blue variety of lichen", "a rare wild orchid"),
    ),
    "geologist": (
        "geology",
        ("a seam of green marble", "a buried volcanic crater", "an underground river",
         "a layer of ancient glacier clay", "a vein of silver ore"),
    ),
    "astronomer": (
        "astronomy",
        ("a faint comet", "a new variable star", "a pair of orbiting stars", "a small asteroid",
         "a dark cloud of cosmic dust"),
    ),
    "marine biologist": (
        "marine biology",
        ("a new species of shrimp", "a glowing jellyfish", "a deep-water coral reef",
         "a colony of giant sea snails", "a seaweed that survives in fresh water"),
    ),
    "meteorologist": (
        "meteorology",
        ("a method for forecasting hail", "a link between sea currents and rainfall",
         "a new kind of cloud formation", "a way to measure wind at high altitude", "a pattern in winter fog"),
    ),
    "chemist": (
        "chemistry",
        ("a cheap way to purify water", "a new blue dye", "a heat-resistant glaze",
         "a method for preserving paper", "a quick test for lead in paint"),
    ),
}  # fmt: skip
SUBJECTS = tuple(subject for subject, _ in FIELDS.values())
BOOK_TITLES = (
    "The Quiet Marsh", "Notes from the Shore", "A Year of Weather", "Stones and Time", "Under the Northern Sky",
    "The Hidden Garden", "Salt and Stars", "The Patient Earth", "Letters from the Field", "Small Wonders",
    "The Restless Tide", "A Map of Clouds",
)  # fmt: skip
AWARDS = (
    "the Silver Quill Award", "the Ambry Prize", "the Lantern Medal", "the Northgate Prize", "the Harwood Medal",
    "the Fenwick Prize", "the Orrin Medal", "the Calloway Award",
)  # fmt: skip
INTEREST_REASONS = (
    "an uncle worked at the local museum",
    "a village teacher ran an evening science club",
    "a family friend lent out books on the subject",
    "a neighbour kept a small home laboratory",
    "a school trip to the university had made a strong impression",
)
SCIENTIST_MOVE_REASONS = (
    "a new research institute had opened there",
    "the university there offered a permanent post",
    "a wealthy patron there agreed to fund the work",
    "the laboratory there had better equipment",
    "a research station there needed a director",
)

# museum
MUSEUM_BUILDINGS = (
    "wool mill", "fire station", "railway depot", "brewery", "grain warehouse", "customs house", "chapel",
    "bank", "coaching inn",
)  # fmt: skip
MUSEUM_OBJECTS = (
    "a carved oak sledge", "a ship's figurehead", "a painted fairground organ", "a complete printing press",
    "a whale skeleton", "a horse-drawn fire engine", "a brass diving helmet", "a wooden weaving loom",
    "a gilded sedan chair",
)  # fmt: skip
COLLECTIONS = (
    "old maps", "ship models", "folk costumes", "musical instruments", "pocket watches", "painted tiles",
    "farm tools", "children's toys", "fossils", "coins", "wedding dresses", "local photographs",
    "glass bottles", "carved walking sticks",
)  # fmt: skip
WING_REASONS = (
    "the collection had outgrown the old galleries",
    "school visits had doubled",
    "a local family donated the land next door",
    "the old galleries could not host travelling exhibitions",
)
CLOSED_REASONS = (
    "the roof needed urgent repairs",
    "a burst pipe flooded the basement",
    "the heating system failed",
    "the electrical wiring had to be replaced",
    "a storm damaged the main hall",
)

# sports club: club name ending, what its home is called
SPORTS = (
    ("Rowing Club", "boathouse"),
    ("Football Club", "ground"),
    ("Cricket Club", "ground"),
    ("Hockey Club", "pitch"),
    ("Cycling Club", "clubhouse"),
    ("Athletics Club", "track"),
    ("Rugby Club", "ground"),
)
# trophy names that fit any sport, so the sport gives no hint
TROPHIES = (
    "the county cup", "the valley shield", "the harbour trophy", "the founders' trophy", "the border cup",
    "the district championship", "the coast challenge", "the silver plate",
)  # fmt: skip
FOUNDING_GROUPS = (
    "railway workers", "schoolteachers", "dock workers", "university students", "coal miners",
    "postal workers", "mill workers", "fishermen",
)  # fmt: skip
VENUES = (
    "Mill Lane", "Ferry Road", "Chapel Field", "Orchard Street", "Station Road", "Quarry Hill", "Bridge End",
    "Marsh Lane", "Church Meadow", "Kiln Street",
)  # fmt: skip
COLOURS = ("red", "white", "green", "black", "gold", "blue", "yellow", "maroon", "grey", "orange", "purple")
CLUB_MOVE_REASONS = (
    "the landlord sold the old site for housing",
    "the river kept flooding the old site",
    "membership had outgrown the old site",
    "the council offered a long lease on better land",
    "a new road cut the old site in two",
)
STAND_REASONS = (
    "the old wooden stand was declared unsafe",
    "a former player left money to the club",
    "crowds had grown too large for the old terraces",
    "the club won a grant from the sports council",
)

# shipwreck
SHIP_ADJECTIVES = ("Grey", "Northern", "Silver", "Swift", "Bonny", "Bright", "Western", "Little", "Brave", "Morning")
SHIP_BIRDS = ("Heron", "Lark", "Tern", "Curlew", "Plover", "Gannet", "Kestrel", "Petrel", "Swallow", "Osprey")
SHIPS = tuple(f"{a} {b}" for a in SHIP_ADJECTIVES for b in SHIP_BIRDS)
SHIP_TYPES = ("schooner", "steamer", "cargo ship", "paddle steamer", "brig", "fishing trawler", "barque")
ROCKS = (
    "Kell Rock", "the Gannet Shoals", "Black Tooth Reef", "the Sorrel Sands", "Heron Point", "the Maiden Stones",
    "Corran Head", "the Widow's Ledge", "Skerry Bank",
)  # fmt: skip
CARGO = (
    "timber", "coal", "salt", "copper wire", "wool bales", "tea chests", "roof slates", "barrels of herring",
    "bags of flour", "crates of oranges", "iron rails", "bolts of cloth", "casks of wine",
)  # fmt: skip
RAISED = ("her bell", "the ship's wheel", "a brass lantern", "her figurehead", "an anchor", "the captain's sextant")
SINK_REASONS = (
    "she struck a hidden reef in thick fog",
    "a fire broke out in her engine room",
    "a winter storm tore away her rudder",
    "her cargo shifted in heavy seas",
    "her compass failed during a gale",
)
FOUND_REASONS = (
    "a fisherman's net snagged on her hull",
    "a sonar survey had mapped the seabed",
    "old letters described where she went down",
    "a storm had shifted the sand that covered her",
)

# festival
# festival name -> the months it may be held in (numbers, 1 = January)
FESTIVAL_KINDS = {
    "Lantern Festival": (1, 2, 10, 11, 12),
    "Apple Fair": (9, 10),
    "Kite Festival": (4, 5, 6, 7, 8),
    "Folk Music Festival": tuple(range(1, 13)),
    "Bread Festival": tuple(range(1, 13)),
    "Boat Festival": (5, 6, 7, 8, 9),
    "Winter Light Festival": (1, 2, 12),
    "Puppet Festival": tuple(range(1, 13)),
    "Cheese Fair": tuple(range(1, 13)),
    "Honey Fair": (8, 9, 10),
}
FESTIVAL_ROLES = (
    "a schoolteacher", "a baker", "the local vicar", "a retired sailor", "a shopkeeper", "a carpenter",
    "a doctor", "a postman",
)  # fmt: skip
SITES = (
    "the market square", "Riverside Park", "the old harbour", "the castle grounds", "the cattle market",
    "the village green", "Station Meadow", "the abbey ruins",
)  # fmt: skip
ATTRACTIONS = (
    "a lantern parade", "a night market", "a rowing race", "a puppet theatre", "fireworks over the river",
    "a brass band", "a children's choir", "a costume parade", "a storytelling tent", "a craft market",
    "a dance contest", "a torchlight procession",
)  # fmt: skip
CONTESTS = (
    "pie-baking contest", "scarecrow contest", "lantern-making contest", "fiddle contest", "bread-baking contest",
    "sandcastle contest",
)  # fmt: skip
PRIZES = (
    "a silver spoon", "a hand-painted lantern", "a year's supply of flour", "a brass bell", "a carved wooden cup",
    "a woollen blanket", "a pair of silver buckles",
)  # fmt: skip
FESTIVAL_MOVE_REASONS = (
    "the crowds had grown too large for the old site",
    "the old site was being rebuilt",
    "local shops complained about the noise",
    "the river flooded the old site",
)
CANCEL_REASONS = (
    "a storm damaged the stages",
    "an outbreak of flu kept people at home",
    "the organisers ran out of money",
    "the only bridge into town was closed for repairs",
)

# expedition
EQUIPMENT = (
    "sledges", "a folding canoe", "snow tents", "a weather balloon", "a box camera", "ice axes", "a theodolite",
    "a field microscope", "a portable radio", "rope ladders", "a hand-cranked drill",
)  # fmt: skip
EXPEDITION_FINDS = (
    "a colony of white ravens", "the remains of an old whaling station", "a hot spring under the ice",
    "fossilised ferns", "a hidden lake", "a cave full of painted walls", "a forest of stunted birches",
)  # fmt: skip
RESEARCH_SHIPS = (
    "Aurora Vale", "Stormpetrel", "Northern Promise", "Endeavour Bay", "Halcyon", "Polar Wren", "Sea Thistle",
    "Bright Fathom",
)  # fmt: skip
PURPOSE_REASONS = (
    "earlier maps of the area were known to be wrong",
    "a meteorite had been seen falling there",
    "travellers had reported strange hot springs",
    "the university wanted fresh rock samples",
    "fishermen had described unknown seabirds",
)
RETURN_REASONS = (
    "their supply ship was trapped by ice",
    "two members fell ill with fever",
    "a storm destroyed the base camp",
    "the money ran out",
    "their radio stopped working",
)

# ---------------------------------------------------------------- question wording shared by all subjects

ORDER_FIRST = ("Which of these happened first {scope}?", "Of these events {scope}, which came first?")
ORDER_LAST = ("Which of these happened most recently {scope}?", "Of these events {scope}, which came last?")
BETWEEN = ("{intro}, how many years passed between {a} and {b}?",)


# ---------------------------------------------------------------- data types


@dataclass(frozen=True)
class Person:
    """A fictional person; ``pronoun`` is "she" or "he"."""

    first: str
    last: str
    pronoun: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Slot:
    """One fact a question can ask about. Facts of one family (the part of ``kind`` before ":")
    stand in for each other as wrong choices; ``pool`` holds more of the same kind."""

    text: str
    kind: str
    pool: tuple[str, ...] = ()

    @property
    def family(self) -> str:
        return self.kind.split(":", 1)[0]


@dataclass
class Sheet:
    """The drawn facts of one passage: template values, typed slots and the list for negation."""

    values: dict[str, str] = field(default_factory=dict)
    slots: dict[str, Slot] = field(default_factory=dict)
    listed: tuple[str, ...] = ()
    list_pool: tuple[str, ...] = ()
    list_family: str = ""
    people: list[Person] = field(default_factory=list)

    def word(self, key: str, text: str) -> None:
        """A value used in the passage that no question asks about."""
        self.values[key] = text

    def fact(self, key: str, text: str, kind: str, pool: Sequence[str] = ()) -> None:
        """A value questions may ask about."""
        self.values[key] = text
        self.slots[key] = Slot(text, kind, tuple(pool))

    def person(self, key: str, person: Person) -> None:
        self.fact(key, person.name, "person")
        self.word(f"{key}_last", person.last)
        self.people.append(person)

    def year(self, key: str, year: int) -> None:
        self.fact(key, str(year), "year")

    def count(self, key: str, n: int) -> None:
        self.fact(key, f"{n:,}", "count")

    def items(self, prefix: str, chosen: Sequence[str], pool: Sequence[str], family: str = "") -> None:
        """The list a negation question is asked about: ``{prefix}1`` ... in the template. With a
        ``family``, its items are also wrong choices for look-ups of that family."""
        for n, item in enumerate(chosen, start=1):
            self.word(f"{prefix}{n}", item)
        self.listed, self.list_pool, self.list_family = tuple(chosen), tuple(pool), family

    def pronouns(self, person: Person) -> None:
        """``{pron}``, ``{pos}`` and ``{obj}`` for the passage's main person."""
        she = person.pronoun == "she"
        self.word("pron", person.pronoun)
        self.word("pos", "her" if she else "his")
        self.word("obj", "her" if she else "him")


@dataclass(frozen=True)
class Ask:
    """Questions about one slot; ``topic`` is a lookup topic, ``numbers`` or ``cause``."""

    topic: str
    key: str
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    """A dated event for order and "how many years between" questions (``key`` is its year slot)."""

    key: str
    choice: str
    noun: str


@dataclass(frozen=True)
class Arith:
    """An arithmetic question: ``op`` is "diff" (a - b) or "sum" (a + b) over two count or year slots."""

    op: str
    a: str
    b: str
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Domain:
    """One kind of passage: how to draw its facts, how to write them and what to ask."""

    name: str
    draw: Callable[[random.Random], Sheet]
    templates: tuple[str, ...]
    asks: tuple[Ask, ...]
    events: tuple[Event, ...]
    ariths: tuple[Arith, ...]
    negation: tuple[str, ...]
    scope: str  # "in {town}": ends order questions; capitalised, it opens "how many years between" ones


@dataclass(frozen=True)
class Item:
    """One question before the answer is placed among the choices, with the evidence the checks use."""

    topic: str
    question: str
    answer: str
    distractors: tuple[str, ...]
    evidence: tuple[tuple[str, int], ...] = ()  # order: (choice, year); arithmetic: (operand text, value)
    op: str = ""  # arithmetic: "diff" or "sum"; order: "first" or "last"


@dataclass(frozen=True)
class Passage:
    """A rendered passage, its domain and its questions."""

    domain: str
    text: str
    items: tuple[Item, ...]


# ---------------------------------------------------------------- small helpers


def cap(text: str) -> str:
    """``text`` with its first letter upper-cased."""
    return text[:1].upper() + text[1:]


def norm(text: str) -> str:
    """Lower-cased text without a leading article, for comparing choices."""
    return re.sub(r"^(a|an|the)\s+", "", text.strip().lower())


def mentions(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words (case-insensitive; "200" is not in "4,200")."""
    pattern = r"(?<![\w])(?<!\d,)" + re.escape(phrase) + r"(?![\w])(?!,\d)"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def absent(text: str, phrase: str) -> bool:
    """Whether no word of ``text`` starts ``phrase`` (without its article): stricter than ``mentions``,
    so "gold" counts as present in "golden", but "red" is absent from "offered"."""
    return re.search(r"(?<![\w])" + re.escape(norm(phrase)), text, flags=re.IGNORECASE) is None


def as_int(text: str) -> int:
    return int(text.replace(",", ""))


def fmt(template: str, values: dict[str, str]) -> str:
    """Fill a template; ``{key_cap}`` gives the value with a capital first letter."""
    full = dict(values)
    full.update({f"{k}_cap": cap(v) for k, v in values.items()})
    return template.format_map(full)


def draw_people(rng: random.Random, n: int) -> list[Person]:
    """``n`` people with distinct first names and distinct surnames."""
    lasts = rng.sample(SURNAMES, n)
    firsts: list[tuple[str, str]] = []
    while len(firsts) < n:
        she = rng.random() < 0.5
        first = rng.choice(FIRST_F if she else FIRST_M)
        if first not in [f for f, _ in firsts]:
            firsts.append((first, "she" if she else "he"))
    return [Person(f, last, p) for (f, p), last in zip(firsts, lasts, strict=True)]


def distinct_years(rng: random.Random, n: int, lo: int, hi: int, taken: Sequence[int]) -> list[int]:
    """``n`` years in [lo, hi], all different from each other and from ``taken``."""
    return rng.sample([y for y in range(lo, hi + 1) if y not in taken], n)


def distinct_counts(rng: random.Random, spec: Sequence[tuple[int, int, int]]) -> list[int]:
    """One number per (lo, hi, step) in ``spec``, all different."""
    while True:
        out = [rng.randrange(lo, hi + 1, step) for lo, hi, step in spec]
        if len(set(out)) == len(out):
            return out


# ---------------------------------------------------------------- subjects: facts and templates


def draw_town(rng: random.Random) -> Sheet:
    """A small market town."""
    s = Sheet()
    town, origin, dest = rng.sample(TOWNS, 3)
    founder, donor, mayor = draw_people(rng, 3)
    y_found = rng.randint(1650, 1820)
    y_rail = rng.randint(max(y_found + 15, 1836), 1925)
    y_bridge = rng.choice([y for y in range(y_found + 5, 1960) if y != y_rail])
    y_paid, y_other = distinct_years(rng, 2, max(y_found + 5, 1790), 1990, [y_found, y_rail, y_bridge])
    lm_paid, lm_other = rng.sample(LANDMARKS, 2)
    role, role2 = rng.sample(TRADES, 2)
    population, stalls = distinct_counts(rng, [(1200, 9800, 100), (18, 95, 1)])
    bridge_reason, rail_reason = rng.choice(BRIDGE_REASONS), rng.choice(RAIL_REASONS)
    s.fact("town", town, "town", TOWNS)
    s.fact("origin", origin, "town", TOWNS)
    s.fact("dest", dest, "town", TOWNS)
    s.fact("river", rng.choice(RIVERS), "river", RIVERS)
    s.person("founder", founder)
    s.person("donor", donor)
    s.person("mayor", mayor)
    s.fact("role", role, "trade", TRADES)
    s.fact("role2", role2, "trade", TRADES)
    s.fact("lm_paid", lm_paid, "landmark", LANDMARKS)
    s.fact("lm_other", lm_other, "landmark", LANDMARKS)
    s.fact("lm_bridge", "stone bridge", "landmark", LANDMARKS)
    for key, year in (("y_found", y_found), ("y_rail", y_rail), ("y_bridge", y_bridge)):
        s.year(key, year)
    s.year("y_paid", y_paid)
    s.year("y_other", y_other)
    s.count("population", population)
    s.count("pop_old", round(population * rng.uniform(0.35, 0.8) / 100) * 100)
    s.count("stalls", stalls)
    s.fact("bridge_reason", bridge_reason, "reason:bridge", BRIDGE_REASONS)
    s.fact("rail_reason", rail_reason, "reason:rail", RAIL_REASONS)
    s.items("goods", rng.sample(TOWN_GOODS, 3), TOWN_GOODS)
    return s


TOWN_TEMPLATES = (
    "{town} is a small market town on the river {river}. It was founded in {y_found} by {founder}, {role} from "
    "{origin}. The {lm_bridge} in the centre was built in {y_bridge} because {bridge_reason}. The railway "
    "reached {town} in {y_rail}, when a line to {dest} opened because {rail_reason}. {donor}, {role2}, paid "
    "for the {lm_paid}, which opened in {y_paid}, and the {lm_other} opened its doors in {y_other}. Today "
    "about {population} people live in the town, up from {pop_old} a century ago, and its Saturday market has "
    "{stalls} stalls. {town} is known for its {goods1}, {goods2} and {goods3}, and its mayor is {mayor}.",
    "{town} is a quiet town on the river {river} whose current mayor is {mayor}. Around {population} people "
    "live there today, up from {pop_old} a century ago. Visitors come for its {goods1}, {goods2} and {goods3}, "
    "and its Saturday market has {stalls} stalls. The town was founded in {y_found} by {founder}, {role} from "
    "{origin}. Its {lm_bridge} was built in {y_bridge} because {bridge_reason}. In {y_rail} a railway line to "
    "{dest} opened, as {rail_reason}. {donor}, {role2}, paid for the {lm_paid}, which opened in {y_paid}; the "
    "{lm_other} dates from {y_other}.",
    "When {founder}, {role} from {origin}, settled on the river {river} in {y_found}, {town} was founded as "
    "little more than a ford and a few cottages. The {lm_bridge}, built in {y_bridge} because "
    "{bridge_reason}, still stands. The railway arrived in {y_rail}, linking the town to {dest}, because "
    "{rail_reason}. In {y_paid} the {lm_paid} opened with money from {donor}, {role2}; in {y_other} the town "
    "gained its {lm_other}. Today {town} has about {population} residents, up from {pop_old} a century ago, "
    "and a Saturday market of {stalls} stalls. Its mayor is {mayor}, and it is best known for its {goods1}, "
    "{goods2} and {goods3}.",
)

TOWN = Domain(
    name="town",
    draw=draw_town,
    templates=TOWN_TEMPLATES,
    asks=(
        Ask("lookup_who", "founder", ("Who founded {town}?", "Which person founded the town of {town}?")),
        Ask("lookup_who", "donor", ("Who paid for the {lm_paid} in {town}?",)),
        Ask("lookup_who", "mayor", ("Who is the mayor of {town}?",)),
        Ask("lookup_what", "role", ("What was the trade of {founder}, the founder of {town}?",)),
        Ask("lookup_what", "lm_paid", ("What did {donor} pay for in {town}?",)),
        Ask("lookup_where", "origin", ("Where did {founder}, the founder of {town}, come from?",)),
        Ask("lookup_where", "dest", ("To which town does the railway line from {town} lead?",)),
        Ask("lookup_where", "river", ("On which river does {town} stand?",)),
        Ask("lookup_when", "y_found", ("In which year was {town} founded?", "When was {town} founded?")),
        Ask("lookup_when", "y_bridge", ("In which year was the stone bridge in {town} built?",)),
        Ask("lookup_when", "y_rail", ("When did the railway reach {town}?",)),
        Ask("lookup_when", "y_paid", ("In which year did the {lm_paid} in {town} open?",)),
        Ask("lookup_when", "y_other", ("When did {town} get its {lm_other}?",)),
        Ask("numbers", "population", ("About how many people live in {town}?",)),
        Ask("numbers", "stalls", ("How many stalls does the Saturday market in {town} have?",)),
        Ask("cause", "bridge_reason", ("Why was the stone bridge in {town} built?",)),
        Ask("cause", "rail_reason", ("Why did the railway line from {town} to {dest} open?",)),
    ),
    events=(
        Event("y_bridge", "The stone bridge was built", "the building of the stone bridge"),
        Event("y_rail", "The railway reached {town}", "the arrival of the railway"),
        Event("y_paid", "The {lm_paid} opened", "the opening of the {lm_paid}"),
        Event("y_other", "The {lm_other} opened", "the opening of the {lm_other}"),
    ),
    ariths=(
        Arith("diff", "y_rail", "y_found", ("How many years after {town} was founded did the railway arrive?",)),
        Arith(
            "diff", "y_bridge", "y_found", ("How many years after the founding of {town} was its stone bridge built?",)
        ),
    ),
    negation=("Which of these is NOT mentioned as something {town} is known for?",),
    scope="in {town}",
)


def draw_company(rng: random.Random) -> Sheet:
    """A manufacturing company."""
    s = Sheet()
    industry = rng.choice(sorted(INDUSTRIES))
    products = INDUSTRIES[industry]
    first, second, *current = rng.sample(products, 5)
    company = f"{rng.choice(BRANDS)} {industry}"
    city_found, city_hq, city_factory = rng.sample(TOWNS, 3)
    founder1, founder2, ceo = draw_people(rng, 3)
    y_found = rng.randint(1820, 1950)
    y_move, y_factory, y_launch, y_ceo = distinct_years(rng, 4, y_found + 3, 2015, [y_found])
    staff_main, staff_factory = distinct_counts(rng, [(120, 1800, 10), (40, 900, 5)])
    s.word("company", company)
    s.person("founder1", founder1)
    s.person("founder2", founder2)
    s.person("ceo", ceo)
    s.fact("city_found", city_found, "town", TOWNS)
    s.fact("city_hq", city_hq, "town", TOWNS)
    s.fact("city_factory", city_factory, "town", TOWNS)
    s.fact("first", first, "product", products)
    s.fact("second", second, "product", products)
    s.year("y_found", y_found)
    s.year("y_move", y_move)
    s.year("y_factory", y_factory)
    s.year("y_launch", y_launch)
    s.year("y_ceo", y_ceo)
    s.count("staff_main", staff_main)
    s.count("staff_factory", staff_factory)
    s.fact("move_reason", rng.choice(MOVE_REASONS), "reason:move", MOVE_REASONS)
    s.fact("factory_reason", rng.choice(FACTORY_REASONS), "reason:factory", FACTORY_REASONS)
    s.items("cur", current, products, family="product")
    return s


COMPANY_TEMPLATES = (
    "{company} was founded in {y_found} by {founder1} and {founder2} in a small workshop in {city_found}. "
    "At first it made only {first}. In {y_move} the company moved its headquarters to {city_hq} because "
    "{move_reason}. A second factory opened in {city_factory} in {y_factory}, as {factory_reason}. The "
    "company began making {second} in {y_launch}, and {ceo} became chief executive in {y_ceo}. Today "
    "{company} is best known for its {cur1}, {cur2} and {cur3}. It employs {staff_main} people at its "
    "headquarters and {staff_factory} at the {city_factory} factory.",
    "With {staff_main} staff at its headquarters in {city_hq} and another {staff_factory} at its factory in "
    "{city_factory}, {company} is one of the region's larger employers. Its best-known products today are "
    "{cur1}, {cur2} and {cur3}, and {ceo} became its chief executive in {y_ceo}. The business began in "
    "{city_found} in {y_found}, when {founder1} and {founder2} started making {first}. It moved its "
    "headquarters to {city_hq} in {y_move} because {move_reason}. The {city_factory} factory opened in "
    "{y_factory} because {factory_reason}, and in {y_launch} the company began making {second}.",
    "{founder1} and {founder2} met in {city_found}, where in {y_found} they set up {company} to make {first}. "
    "In {y_launch} the firm began making {second}, and in {y_move} it moved its headquarters to {city_hq}, "
    "because {move_reason}. Its factory in {city_factory} opened in {y_factory} because {factory_reason}. "
    "{ceo} was appointed chief executive in {y_ceo}. Today the company is best known for its {cur1}, {cur2} "
    "and {cur3}, and it employs {staff_main} people at its headquarters and {staff_factory} in {city_factory}.",
)

COMPANY = Domain(
    name="company",
    draw=draw_company,
    templates=COMPANY_TEMPLATES,
    asks=(
        Ask("lookup_who", "founder1", ("Who founded {company} together with {founder2}?",)),
        Ask("lookup_who", "founder2", ("Who set up {company} with {founder1}?",)),
        Ask("lookup_who", "ceo", ("Who became chief executive of {company} in {y_ceo}?",)),
        Ask(
            "lookup_what",
            "first",
            ("What did {company} make when it was founded?", "What was the first product of {company}?"),
        ),
        Ask("lookup_what", "second", ("What did {company} begin making in {y_launch}?",)),
        Ask("lookup_where", "city_found", ("In which town was {company} founded?",)),
        Ask("lookup_where", "city_hq", ("Where did {company} move its headquarters in {y_move}?",)),
        Ask("lookup_where", "city_factory", ("In which town did {company} open a factory in {y_factory}?",)),
        Ask("lookup_when", "y_found", ("In which year was {company} founded?",)),
        Ask("lookup_when", "y_move", ("When did {company} move its headquarters to {city_hq}?",)),
        Ask("lookup_when", "y_factory", ("In which year did {company} open its factory in {city_factory}?",)),
        Ask("lookup_when", "y_launch", ("When did {company} begin making {second}?",)),
        Ask("lookup_when", "y_ceo", ("In which year did {ceo} become chief executive of {company}?",)),
        Ask("numbers", "staff_main", ("How many people work at the headquarters of {company}?",)),
        Ask("numbers", "staff_factory", ("How many people does {company} employ at its {city_factory} factory?",)),
        Ask("cause", "move_reason", ("Why did {company} move its headquarters to {city_hq}?",)),
        Ask("cause", "factory_reason", ("Why did {company} open a factory in {city_factory}?",)),
    ),
    events=(
        Event("y_move", "{company} moved its headquarters to {city_hq}", "the move to {city_hq}"),
        Event("y_factory", "The {city_factory} factory opened", "the opening of the {city_factory} factory"),
        Event("y_launch", "{company} began making {second}", "the launch of its {second}"),
        Event("y_ceo", "{ceo} became chief executive", "the appointment of {ceo} as chief executive"),
    ),
    ariths=(
        Arith(
            "diff", "y_move", "y_found", ("How many years after it was founded did {company} move its headquarters?",)
        ),
        Arith(
            "sum",
            "staff_main",
            "staff_factory",
            ("How many people does {company} employ at its headquarters and its {city_factory} factory together?",),
        ),
    ),
    negation=("Which of these is NOT mentioned as one of the best-known products of {company} today?",),
    scope="in the history of {company}",
)


def draw_scientist(rng: random.Random) -> Sheet:
    """A scientist's life."""
    s = Sheet()
    field_name = rng.choice(sorted(FIELDS))
    subject, discoveries = FIELDS[field_name]
    sci, mentor, colleague = draw_people(rng, 3)
    born, uni, work = rng.sample(TOWNS, 3)
    y_birth = rng.randint(1800, 1950)
    y_grad = y_birth + rng.randint(21, 26)
    y_move, y_disc, y_book, y_award = distinct_years(rng, 4, y_grad + 1, y_grad + 40, [y_birth, y_grad])
    papers, books = distinct_counts(rng, [(18, 240, 1), (2, 9, 1)])
    s.word("field", field_name)
    s.pronouns(sci)
    s.person("sci", sci)
    s.person("mentor", mentor)
    s.person("colleague", colleague)
    s.fact("born", born, "town", TOWNS)
    s.fact("uni", uni, "town", TOWNS)
    s.fact("work", work, "town", TOWNS)
    s.fact("subject", subject, "subject", SUBJECTS)
    s.fact("discovery", rng.choice(discoveries), "discovery", discoveries)
    title, title2 = rng.sample(BOOK_TITLES, 2)
    s.fact("title", title, "title", BOOK_TITLES)
    s.fact("title2", title2, "title", BOOK_TITLES)
    s.fact("award", rng.choice(AWARDS), "award", AWARDS)
    s.year("y_birth", y_birth)
    s.year("y_grad", y_grad)
    s.year("y_move", y_move)
    s.year("y_disc", y_disc)
    s.year("y_book", y_book)
    s.year("y_award", y_award)
    s.count("papers", papers)
    s.count("books", books)
    s.fact("interest_reason", rng.choice(INTEREST_REASONS), "reason:interest", INTEREST_REASONS)
    s.fact("move_reason", rng.choice(SCIENTIST_MOVE_REASONS), "reason:move", SCIENTIST_MOVE_REASONS)
    s.items("region", rng.sample(REGIONS, 3), REGIONS)
    return s


SCIENTIST_TEMPLATES = (
    "{sci} was born in {born} in {y_birth}. {pron_cap} became interested in {subject} as a child because "
    "{interest_reason}, and studied it at the University of {uni} under {mentor}, graduating in {y_grad}. In "
    "{y_move} {pron} moved to {work} because {move_reason}. Working with {colleague}, {pron} made {pos} "
    "best-known discovery in {y_disc}: {discovery}. {pos_cap} first book, {title}, appeared in {y_book}, and "
    "{pos} last was {title2}; in all {pron} wrote {books} books and {papers} research papers. Fieldwork took "
    "{obj} to {region1}, {region2} and {region3}. In {y_award} {pron} received {award}.",
    "The {field} {sci} received {award} in {y_award}. Born in {born} in {y_birth}, {pron} first became "
    "interested in {subject} because {interest_reason}. {pron_cap} studied at the University of {uni}, where "
    "{pos} mentor was {mentor}, and graduated in {y_grad}. {pos_cap} best-known discovery, made in {y_disc} "
    "together with {colleague}, was {discovery}. {pron_cap} moved to {work} in {y_move} because "
    "{move_reason}. Over {pos} career {pron} published {papers} research papers and {books} books, the first "
    "of them {title} in {y_book} and the last {title2}, and did fieldwork in {region1}, {region2} and "
    "{region3}.",
    "{sci} was born in {born} in {y_birth}. An interest in {subject} began early, because {interest_reason}. "
    "After studying under {mentor} at the University of {uni}, {pron} graduated in {y_grad}. {pron_cap} "
    "published {pos} first book, {title}, in {y_book} (the last was {title2}), and in {y_disc} {pron} and "
    "{colleague} found {discovery}. {pron_cap} settled in {work} in {y_move} because {move_reason}. {pos_cap} "
    "fieldwork included trips to {region1}, {region2} and {region3}. By the end of {pos} career {pron} had "
    "written {books} books and {papers} papers, and in {y_award} {pron} was given {award}.",
)

SCIENTIST = Domain(
    name="scientist",
    draw=draw_scientist,
    templates=SCIENTIST_TEMPLATES,
    asks=(
        Ask("lookup_who", "mentor", ("Who was {sci}'s mentor at university?", "Under whom did {sci} study?")),
        Ask("lookup_who", "colleague", ("Who worked with {sci} on the discovery of {discovery}?",)),
        Ask("lookup_what", "subject", ("Which subject did {sci} study?",)),
        Ask(
            "lookup_what",
            "discovery",
            ("What was the best-known discovery of {sci}?", "What did {sci} find in {y_disc}?"),
        ),
        Ask("lookup_what", "title", ("What was the title of {sci}'s first book?",)),
        Ask("lookup_what", "award", ("Which award did {sci} receive in {y_award}?",)),
        Ask("lookup_where", "born", ("Where was {sci} born?",)),
        Ask("lookup_where", "uni", ("At the university of which town did {sci} study?",)),
        Ask("lookup_where", "work", ("Where did {sci} move in {y_move}?",)),
        Ask("lookup_when", "y_birth", ("In which year was {sci} born?",)),
        Ask("lookup_when", "y_grad", ("When did {sci} graduate?",)),
        Ask("lookup_when", "y_disc", ("In which year did {sci} make the discovery of {discovery}?",)),
        Ask("lookup_when", "y_book", ("When was {sci}'s first book, {title}, published?",)),
        Ask("lookup_when", "y_award", ("In which year did {sci} receive {award}?",)),
        Ask("numbers", "papers", ("How many research papers did {sci} publish?",)),
        Ask("numbers", "books", ("How many books did {sci} write?",)),
        Ask("cause", "interest_reason", ("Why did {sci} become interested in {subject}?",)),
        Ask("cause", "move_reason", ("Why did {sci} move to {work}?",)),
    ),
    events=(
        Event("y_move", "{sci} moved to {work}", "the move to {work}"),
        Event("y_disc", "{sci} found {discovery}", "the discovery of {discovery}"),
        Event("y_book", "{title} was published", "the publication of {title}"),
        Event("y_award", "{sci} received {award}", "the award of {award}"),
    ),
    ariths=(
        Arith("diff", "y_award", "y_grad", ("How many years after graduating did {sci} receive {award}?",)),
        Arith("diff", "y_disc", "y_grad", ("How many years after graduating did {sci} find {discovery}?",)),
        Arith("sum", "papers", "books", ("How many research papers and books did {sci} publish altogether?",)),
    ),
    negation=("Which of these is NOT mentioned as a place where {sci} did fieldwork?",),
    scope="in {sci}'s life",
)


def draw_museum(rng: random.Random) -> Sheet:
    """A local museum."""
    s = Sheet()
    town, donor_home, found_place = rng.sample(TOWNS, 3)
    founder, director, donor = draw_people(rng, 3)
    y_open = rng.randint(1850, 1960)
    y_wing, y_acq, y_closed, y_dir = distinct_years(rng, 4, y_open + 3, 2020, [y_open])
    display, store, visitors = distinct_counts(rng, [(400, 4800, 10), (5000, 26000, 100), (30000, 95000, 500)])
    s.word("town", town)
    s.person("founder", founder)
    s.person("director", director)
    s.person("donor", donor)
    s.fact("donor_home", donor_home, "town", TOWNS)
    s.fact("found_place", found_place, "town", TOWNS)
    building, building2 = rng.sample(MUSEUM_BUILDINGS, 2)
    s.fact("building", building, "building", MUSEUM_BUILDINGS)
    s.fact("building2", building2, "building", MUSEUM_BUILDINGS)
    s.fact("object", rng.choice(MUSEUM_OBJECTS), "object", MUSEUM_OBJECTS)
    s.year("y_open", y_open)
    s.year("y_wing", y_wing)
    s.year("y_acq", y_acq)
    s.year("y_closed", y_closed)
    s.year("y_dir", y_dir)
    s.count("display", display)
    s.count("store", store)
    s.count("visitors", visitors)
    s.fact("wing_reason", rng.choice(WING_REASONS), "reason:wing", WING_REASONS)
    s.fact("closed_reason", rng.choice(CLOSED_REASONS), "reason:closed", CLOSED_REASONS)
    s.items("coll", rng.sample(COLLECTIONS, 3), COLLECTIONS)
    return s


MUSEUM_TEMPLATES = (
    "The {town} Museum opened in {y_open} in a former {building} next to the old {building2}, founded by the "
    "local historian {founder}. Its collections include {coll1}, {coll2} and {coll3}. {display} objects are "
    "on display and another {store} are kept in storage, and about {visitors} people visit each year. The "
    "{donor_last} Wing, named after {donor}, a collector from {donor_home}, opened in {y_wing} because "
    "{wing_reason}. In {y_acq} the museum acquired {object}, which had been discovered near {found_place}. "
    "The building closed for a year in {y_closed} because {closed_reason}. {director} became director in "
    "{y_dir}.",
    "About {visitors} people a year visit the {town} Museum, which fills a former {building} beside the old "
    "{building2}. The local historian {founder} founded it in {y_open}. It is known for its {coll1}, {coll2} "
    "and {coll3}: {display} objects are on display, with another {store} in storage. Its most unusual object, "
    "{object}, was found near {found_place} and acquired in {y_acq}. The {donor_last} Wing opened in {y_wing} "
    "because {wing_reason}; it is named after {donor}, a collector from {donor_home}. In {y_closed} the "
    "museum closed for a year because {closed_reason}. {director} was appointed director in {y_dir}.",
    "The {town} Museum owes its start to {founder}, a local historian who opened it in {y_open} in a former "
    "{building} beside the old {building2}. Today it holds {display} objects on display and {store} more in "
    "storage, among them {coll1}, {coll2} and {coll3}, and it welcomes about {visitors} visitors a year. "
    "{director} became director in {y_dir}. The museum closed for a year in {y_closed} because "
    "{closed_reason}. It acquired {object}, discovered near {found_place}, in {y_acq}. The {donor_last} Wing, "
    "named after {donor} from {donor_home}, opened in {y_wing} because {wing_reason}.",
)

MUSEUM = Domain(
    name="museum",
    draw=draw_museum,
    templates=MUSEUM_TEMPLATES,
    asks=(
        Ask("lookup_who", "founder", ("Who founded the {town} Museum?",)),
        Ask("lookup_who", "director", ("Who became director of the {town} Museum in {y_dir}?",)),
        Ask("lookup_who", "donor", ("Who is the new wing of the {town} Museum named after?",)),
        Ask("lookup_what", "building", ("What kind of building did the {town} Museum move into?",)),
        Ask("lookup_what", "object", ("What did the {town} Museum acquire in {y_acq}?",)),
        Ask(
            "lookup_where",
            "donor_home",
            ("Where did {donor}, after whom a wing of the {town} Museum is named, come from?",),
        ),
        Ask("lookup_where", "found_place", ("Near which town was {object} in the {town} Museum discovered?",)),
        Ask("lookup_when", "y_open", ("In which year did the {town} Museum open?",)),
        Ask("lookup_when", "y_wing", ("When did the {donor_last} Wing of the {town} Museum open?",)),
        Ask("lookup_when", "y_acq", ("In which year did the {town} Museum acquire {object}?",)),
        Ask("lookup_when", "y_closed", ("When did the {town} Museum close for a year?",)),
        Ask("numbers", "display", ("How many objects does the {town} Museum have on display?",)),
        Ask("numbers", "store", ("How many objects does the {town} Museum keep in storage?",)),
        Ask("numbers", "visitors", ("About how many people visit the {town} Museum each year?",)),
        Ask("cause", "wing_reason", ("Why was the {donor_last} Wing of the {town} Museum opened?",)),
        Ask("cause", "closed_reason", ("Why did the {town} Museum close for a year in {y_closed}?",)),
    ),
    events=(
        Event("y_wing", "The {donor_last} Wing opened", "the opening of the {donor_last} Wing"),
        Event("y_acq", "The museum acquired {object}", "the arrival of {object}"),
        Event("y_closed", "The museum closed for a year", "the temporary closure of the museum"),
        Event("y_dir", "{director} became director", "the appointment of {director} as director"),
    ),
    ariths=(
        Arith(
            "diff",
            "y_wing",
            "y_open",
            ("How many years after the {town} Museum opened was the {donor_last} Wing added?",),
        ),
        Arith(
            "sum",
            "display",
            "store",
            ("How many objects does the {town} Museum hold in all, on display and in storage?",),
        ),
        Arith(
            "diff",
            "store",
            "display",
            ("How many more objects does the {town} Museum keep in storage than on display?",),
        ),
    ),
    negation=("Which of these is NOT mentioned as part of the collections of the {town} Museum?",),
    scope="at the {town} Museum",
)


def draw_club(rng: random.Random) -> Sheet:
    """A sports club."""
    s = Sheet()
    ending, home = rng.choice(SPORTS)
    town, rival = rng.sample(TOWNS, 2)
    founder, captain, coach = draw_people(rng, 3)
    old_venue, new_venue = rng.sample(VENUES, 2)
    y_found = rng.randint(1860, 1960)
    y_move, y_title, y_women, y_stand = distinct_years(rng, 4, y_found + 3, 2020, [y_found])
    titles, juniors, seniors = distinct_counts(rng, [(2, 14, 1), (30, 420, 1), (45, 600, 1)])
    s.word("club", f"{town} {ending}")
    s.word("home", home)
    s.person("founder", founder)
    s.person("captain", captain)
    s.person("coach", coach)
    s.fact("group", rng.choice(FOUNDING_GROUPS), "group", FOUNDING_GROUPS)
    trophy, trophy2 = rng.sample(TROPHIES, 2)
    s.fact("trophy", trophy, "trophy", TROPHIES)
    s.fact("trophy2", trophy2, "trophy", TROPHIES)
    s.fact("old_venue", old_venue, "venue", VENUES)
    s.fact("new_venue", new_venue, "venue", VENUES)
    s.fact("rival", rival, "town", TOWNS)
    s.year("y_found", y_found)
    s.year("y_move", y_move)
    s.year("y_title", y_title)
    s.year("y_women", y_women)
    s.year("y_stand", y_stand)
    s.count("titles", titles)
    s.count("juniors", juniors)
    s.count("seniors", seniors)
    s.fact("move_reason", rng.choice(CLUB_MOVE_REASONS), "reason:move", CLUB_MOVE_REASONS)
    s.fact("stand_reason", rng.choice(STAND_REASONS), "reason:stand", STAND_REASONS)
    s.items("colour", rng.sample(COLOURS, 3), COLOURS)
    return s


CLUB_TEMPLATES = (
    "{club} was founded in {y_found} by a group of {group} led by {founder}. Its first captain was {captain}. "
    "The club played at {old_venue} until {y_move}, when it moved to a new {home} at {new_venue} because "
    "{move_reason}. It first won {trophy} in {y_title} and has now won it {titles} times, but it has never won "
    "{trophy2}. A women's team was formed in {y_women}, and a new stand was built in {y_stand} because "
    "{stand_reason}. The club plays in {colour1}, {colour2} and {colour3}, and its fiercest rival is the club "
    "from {rival}. Today it has {juniors} junior and {seniors} senior members, coached by {coach}.",
    "With {juniors} junior and {seniors} senior members, {club} is one of the busiest clubs in the area. Its "
    "players wear {colour1}, {colour2} and {colour3}, and its head coach is {coach}. The club began in "
    "{y_found}, when {founder} gathered a group of {group}; {captain} was chosen as the first captain. Its "
    "first home was at {old_venue}, but in {y_move} it moved to {new_venue} because {move_reason}. It has won "
    "{trophy} {titles} times, first in {y_title}, but never {trophy2}. Its women's team dates from {y_women}, "
    "and its main stand, built because {stand_reason}, from {y_stand}. Its fiercest rival is the club from "
    "{rival}.",
    "In {y_found} a group of {group}, led by {founder}, founded {club}, with {captain} as its first captain. "
    "Its fiercest rival has always been the club from {rival}. The new stand opened in {y_stand} because "
    "{stand_reason}. In {y_move} the club left its first home at {old_venue} for a new {home} at "
    "{new_venue}, because {move_reason}. A women's team was formed in {y_women}. The club won {trophy} for the "
    "first time in {y_title} and has now won it {titles} times; {trophy2} still eludes it. Coached by "
    "{coach}, it has {juniors} junior and {seniors} senior members, who play in {colour1}, {colour2} and "
    "{colour3}.",
)

CLUB = Domain(
    name="sports_club",
    draw=draw_club,
    templates=CLUB_TEMPLATES,
    asks=(
        Ask("lookup_who", "founder", ("Who led the group that founded {club}?",)),
        Ask("lookup_who", "captain", ("Who was the first captain of {club}?",)),
        Ask("lookup_who", "coach", ("Who coaches {club}?", "Who is the coach of {club}?")),
        Ask("lookup_what", "group", ("Which group of people founded {club}?",)),
        Ask("lookup_what", "trophy", ("What has {club} won {titles} times?",)),
        Ask("lookup_where", "old_venue", ("Where did {club} play before {y_move}?",)),
        Ask("lookup_where", "new_venue", ("Where did {club} move in {y_move}?",)),
        Ask("lookup_where", "rival", ("Where does the fiercest rival of {club} come from?",)),
        Ask("lookup_when", "y_found", ("In which year was {club} founded?",)),
        Ask("lookup_when", "y_move", ("When did {club} leave {old_venue}?",)),
        Ask("lookup_when", "y_title", ("In which year did {club} first win {trophy}?",)),
        Ask("lookup_when", "y_women", ("When was the women's team of {club} formed?",)),
        Ask("lookup_when", "y_stand", ("In which year was the new stand of {club} built?",)),
        Ask("numbers", "titles", ("How many times has {club} won {trophy}?",)),
        Ask("numbers", "juniors", ("How many junior members does {club} have?",)),
        Ask("numbers", "seniors", ("How many senior members does {club} have?",)),
        Ask("cause", "move_reason", ("Why did {club} leave {old_venue}?",)),
        Ask("cause", "stand_reason", ("Why was the new stand of {club} built?",)),
    ),
    events=(
        Event("y_move", "{club} moved to {new_venue}", "the move to {new_venue}"),
        Event("y_title", "{club} first won {trophy}", "the club's first win in {trophy}"),
        Event("y_women", "The women's team was formed", "the forming of the women's team"),
        Event("y_stand", "The new stand was built", "the building of the new stand"),
    ),
    ariths=(
        Arith("sum", "juniors", "seniors", ("How many members does {club} have in total?",)),
        Arith("diff", "y_title", "y_found", ("How many years after it was founded did {club} first win {trophy}?",)),
        Arith("diff", "y_move", "y_found", ("For how many years did {club} play at {old_venue}?",)),
    ),
    negation=("Which colour is NOT mentioned as one of the colours of {club}?",),
    scope="in the history of {club}",
)


def draw_ship(rng: random.Random) -> Sheet:
    """A shipwreck."""
    s = Sheet()
    built, from_port, to_port = rng.sample(TOWNS, 3)
    captain, skipper, diver, historian = draw_people(rng, 4)
    y_sank = rng.randint(1820, 1960)
    y_light = rng.choice([y for y in range(y_sank - 40, y_sank + 41) if y != y_sank])
    y_memorial, y_located, y_book = distinct_years(rng, 3, y_sank + 1, 2022, [y_light])
    crew, survivors, depth = distinct_counts(rng, [(14, 64, 1), (3, 12, 1), (12, 85, 1)])
    ship = rng.choice(SHIPS)
    s.word("ship", ship)
    s.person("captain", captain)
    s.person("skipper", skipper)
    s.person("diver", diver)
    s.person("historian", historian)
    s.fact("ship_type", rng.choice(SHIP_TYPES), "ship_type", SHIP_TYPES)
    raised, raised2 = rng.sample(RAISED, 2)
    s.fact("raised", raised, "raised", RAISED)
    s.fact("raised2", raised2, "raised", RAISED)
    s.fact("built", built, "town", TOWNS)
    s.fact("from_port", from_port, "town", TOWNS)
    s.fact("to_port", to_port, "town", TOWNS)
    rocks = [r for r in ROCKS if not set(r.split()) & set(ship.split())]  # no "Gannet Shoals" for the "Grey Gannet"
    s.fact("rock", rng.choice(rocks), "rock", ROCKS)
    s.year("y_sank", y_sank)
    s.year("y_light", y_light)
    s.year("y_memorial", y_memorial)
    s.year("y_located", y_located)
    s.year("y_book", y_book)
    s.count("crew", crew)
    s.count("survivors", survivors)
    s.count("depth", depth)
    s.fact("sink_reason", rng.choice(SINK_REASONS), "reason:sink", SINK_REASONS)
    s.fact("found_reason", rng.choice(FOUND_REASONS), "reason:found", FOUND_REASONS)
    s.items("cargo", rng.sample(CARGO, 3), CARGO)
    return s


SHIP_TEMPLATES = (
    "The {ship} was a {ship_type} built in {built}. In {y_sank}, under Captain {captain}, she left {from_port} "
    "for {to_port} with {cargo1}, {cargo2} and {cargo3}, but she sank near {rock} because {sink_reason}. Of "
    "her {crew} crew, only {survivors} survived, rescued by {skipper}, the skipper of a passing fishing boat. "
    "A lighthouse was built on {rock} in {y_light}, and a memorial to the crew was unveiled in {from_port} in "
    "{y_memorial}. The diver {diver} found the wreck, {depth} metres down, in {y_located} because "
    "{found_reason}. Divers later raised {raised}; {raised2} was never found. The historian {historian} "
    "published a book about the ship in {y_book}.",
    "Divers know the wreck of the {ship} well: she lies {depth} metres down near {rock}, where a lighthouse "
    "was built in {y_light}. The {ship_type}, built in {built}, sank in {y_sank} on a voyage from {from_port} "
    "to {to_port}, carrying {cargo1}, {cargo2} and {cargo3}, because {sink_reason}. Her captain was "
    "{captain}. Only {survivors} of her {crew} crew survived; {skipper}, the skipper of a passing fishing "
    "boat, rescued them. The diver {diver} found the wreck in {y_located} because {found_reason}. {raised_cap} "
    "was later raised, but {raised2} was never found. {historian} told her story in a book published in "
    "{y_book}, and a memorial in {from_port} was unveiled in {y_memorial}.",
    "In {y_sank} the {ship_type} {ship}, captained by {captain}, sailed from {from_port} for {to_port} with a "
    "cargo of {cargo1}, {cargo2} and {cargo3}. She never arrived: she sank near {rock} because "
    "{sink_reason}. {skipper}, the skipper of a passing fishing boat, saved {survivors} of her {crew} crew. "
    "She had been built in {built}. The lighthouse on {rock} dates from {y_light}, and {from_port} unveiled "
    "a memorial in {y_memorial}. The wreck, {depth} metres down, was found by the diver {diver} in "
    "{y_located} because {found_reason}; {raised} has since been raised, but {raised2} is still missing. "
    "{historian} wrote a book about her in {y_book}.",
)

SHIP = Domain(
    name="shipwreck",
    draw=draw_ship,
    templates=SHIP_TEMPLATES,
    asks=(
        Ask("lookup_who", "captain", ("Who was the captain of the {ship}?",)),
        Ask("lookup_who", "skipper", ("Who rescued the survivors of the {ship}?",)),
        Ask("lookup_who", "diver", ("Who found the wreck of the {ship}?",)),
        Ask("lookup_who", "historian", ("Who wrote a book about the {ship}?",)),
        Ask("lookup_what", "ship_type", ("What kind of vessel was the {ship}?",)),
        Ask("lookup_what", "raised", ("What was raised from the wreck of the {ship}?",)),
        Ask("lookup_where", "built", ("Where was the {ship} built?",)),
        Ask("lookup_where", "from_port", ("From which port did the {ship} sail on her last voyage?",)),
        Ask("lookup_where", "to_port", ("Where was the {ship} going when she sank?",)),
        Ask("lookup_where", "rock", ("Near which place did the {ship} sink?",)),
        Ask("lookup_when", "y_sank", ("In which year did the {ship} sink?",)),
        Ask("lookup_when", "y_light", ("When was the lighthouse on {rock} built?",)),
        Ask("lookup_when", "y_memorial", ("In which year was the memorial to the crew of the {ship} unveiled?",)),
        Ask("lookup_when", "y_located", ("When was the wreck of the {ship} found?",)),
        Ask("lookup_when", "y_book", ("In which year did {historian} publish a book about the {ship}?",)),
        Ask("numbers", "crew", ("How many crew did the {ship} have on her last voyage?",)),
        Ask("numbers", "survivors", ("How many of the crew of the {ship} survived?",)),
        Ask("numbers", "depth", ("At what depth, in metres, does the wreck of the {ship} lie?",)),
        Ask("cause", "sink_reason", ("Why did the {ship} sink?",)),
        Ask("cause", "found_reason", ("Why was the wreck of the {ship} found in {y_located}?",)),
    ),
    events=(
        Event("y_light", "A lighthouse was built on {rock}", "the building of the lighthouse on {rock}"),
        Event("y_memorial", "A memorial to the crew was unveiled", "the unveiling of the memorial"),
        Event("y_located", "{diver} found the wreck", "the discovery of the wreck"),
        Event("y_book", "{historian} published a book about the ship", "the publication of the book by {historian}"),
    ),
    ariths=(
        Arith("diff", "crew", "survivors", ("How many of the crew of the {ship} did not survive?",)),
        Arith("diff", "y_located", "y_sank", ("How many years after she sank was the wreck of the {ship} found?",)),
        Arith(
            "diff",
            "y_memorial",
            "y_sank",
            ("How many years after the {ship} sank was the memorial to her crew unveiled?",),
        ),
    ),
    negation=("Which of these is NOT mentioned as part of the cargo of the {ship}?",),
    scope="in the story of the {ship}",
)


def draw_festival(rng: random.Random) -> Sheet:
    """A yearly town festival."""
    s = Sheet()
    town = rng.choice(TOWNS)
    founder, organiser, winner = draw_people(rng, 3)
    site1, site2 = rng.sample(SITES, 2)
    y_first = rng.randint(1880, 1990)
    y_move, y_cancel, y_extend, y_award = distinct_years(rng, 4, y_first + 2, 2023, [y_first])
    days, visitors, performers, volunteers = distinct_counts(
        rng, [(2, 9, 1), (2000, 60000, 500), (40, 380, 1), (25, 260, 1)]
    )
    kind = rng.choice(sorted(FESTIVAL_KINDS))
    s.word("festival", f"{town} {kind}")
    s.person("founder", founder)
    s.person("organiser", organiser)
    s.person("winner", winner)
    s.fact("role", rng.choice(FESTIVAL_ROLES), "role", FESTIVAL_ROLES)
    s.fact("contest", rng.choice(CONTESTS), "contest", CONTESTS)
    prize, prize2 = rng.sample(PRIZES, 2)
    s.fact("prize", prize, "prize", PRIZES)
    s.fact("prize2", prize2, "prize", PRIZES)
    s.fact("site1", site1, "site", SITES)
    s.fact("site2", site2, "site", SITES)
    s.fact("month", MONTHS[rng.choice(FESTIVAL_KINDS[kind]) - 1], "month", MONTHS)
    s.year("y_first", y_first)
    s.year("y_move", y_move)
    s.year("y_cancel", y_cancel)
    s.year("y_extend", y_extend)
    s.year("y_award", y_award)
    s.count("days", days)
    s.count("visitors", visitors)
    s.count("performers", performers)
    s.count("volunteers", volunteers)
    s.fact("move_reason", rng.choice(FESTIVAL_MOVE_REASONS), "reason:move", FESTIVAL_MOVE_REASONS)
    s.fact("cancel_reason", rng.choice(CANCEL_REASONS), "reason:cancel", CANCEL_REASONS)
    s.items("attr", rng.sample(ATTRACTIONS, 3), ATTRACTIONS)
    return s


FESTIVAL_TEMPLATES = (
    "The {festival} was first held in {y_first}, started by {founder}, {role}. It lasts {days} days every "
    "{month} and draws about {visitors} visitors. It was held in {site1} until {y_move}, when it "
    "moved to {site2} because {move_reason}. Visitors can enjoy {attr1}, {attr2} and {attr3}. The winner of "
    "the {contest} receives {prize} and the runner-up {prize2}; last year's winner was {winner}. It was "
    "cancelled in {y_cancel} because {cancel_reason}. A day was added to it in {y_extend}, and it won a "
    "national tourism award in {y_award}. This year the organiser, {organiser}, has {performers} performers "
    "and {volunteers} volunteers.",
    "Every {month}, about {visitors} people come to the {festival} for {days} days, with {attr1}, {attr2} "
    "and {attr3}. Its organiser, {organiser}, leads {volunteers} volunteers, and {performers} performers take "
    "part. The festival was founded in {y_first} by {founder}, {role}, and was first held in {site1}. In "
    "{y_move} it moved to {site2} because {move_reason}. It won a national tourism award in {y_award}, and "
    "a day was added to it in {y_extend}. In {y_cancel} it was cancelled because {cancel_reason}. The winner "
    "of its {contest} receives {prize} and the runner-up {prize2}; last year's winner was {winner}.",
    "When {founder}, {role}, organised the first {festival} in {y_first}, it was held in {site1}. Since "
    "{y_move} it has been held in {site2}, because {move_reason}. It now lasts {days} days each {month}, "
    "with {attr1}, {attr2} and {attr3}, and draws about {visitors} visitors. The only cancellation came in "
    "{y_cancel}, because {cancel_reason}. The festival gained an extra day in {y_extend} and a national "
    "tourism award in {y_award}. The {contest}, last won by {winner}, pays {prize} to the winner and "
    "{prize2} to the runner-up. This year the organiser, {organiser}, has {performers} performers and "
    "{volunteers} volunteers.",
)

FESTIVAL = Domain(
    name="festival",
    draw=draw_festival,
    templates=FESTIVAL_TEMPLATES,
    asks=(
        Ask("lookup_who", "founder", ("Who started the {festival}?",)),
        Ask("lookup_who", "organiser", ("Who is the organiser of the {festival}?",)),
        Ask("lookup_who", "winner", ("Who won the {contest} at the {festival} last year?",)),
        Ask("lookup_what", "role", ("What was the job of {founder}, who started the {festival}?",)),
        Ask("lookup_what", "prize", ("What does the winner of the {contest} at the {festival} receive?",)),
        Ask("lookup_where", "site1", ("Where was the {festival} held before {y_move}?",)),
        Ask("lookup_where", "site2", ("Where has the {festival} been held since {y_move}?",)),
        Ask("lookup_when", "y_first", ("In which year was the {festival} first held?",)),
        Ask("lookup_when", "month", ("In which month does the {festival} take place?",)),
        Ask("lookup_when", "y_cancel", ("In which year was the {festival} cancelled?",)),
        Ask("lookup_when", "y_award", ("When did the {festival} win a national tourism award?",)),
        Ask("lookup_when", "y_move", ("When did the {festival} move to {site2}?",)),
        Ask("numbers", "days", ("How many days does the {festival} last?",)),
        Ask("numbers", "visitors", ("About how many visitors does the {festival} draw?",)),
        Ask("numbers", "performers", ("How many performers are taking part in the {festival} this year?",)),
        Ask("numbers", "volunteers", ("How many volunteers does the organiser of the {festival} have?",)),
        Ask("cause", "move_reason", ("Why did the {festival} move to {site2}?",)),
        Ask("cause", "cancel_reason", ("Why was the {festival} cancelled in {y_cancel}?",)),
    ),
    events=(
        Event("y_move", "The festival moved to {site2}", "the move to {site2}"),
        Event("y_cancel", "The festival was cancelled", "the cancellation of the festival"),
        Event("y_extend", "A day was added to the festival", "the addition of an extra day"),
        Event("y_award", "The festival won a national tourism award", "the national tourism award"),
    ),
    ariths=(
        Arith(
            "sum",
            "performers",
            "volunteers",
            ("How many performers and volunteers are taking part in the {festival} this year altogether?",),
        ),
        Arith("diff", "y_move", "y_first", ("For how many years was the {festival} held in {site1}?",)),
        Arith(
            "diff",
            "y_award",
            "y_first",
            ("How many years after it was first held did the {festival} win a national tourism award?",),
        ),
    ),
    negation=("Which of these is NOT mentioned as something visitors can enjoy at the {festival}?",),
    scope="in the history of the {festival}",
)


def draw_expedition(rng: random.Random) -> Sheet:
    """A research expedition."""
    s = Sheet()
    port, base = rng.sample(TOWNS, 2)
    leader, deputy = draw_people(rng, 2)
    y_dep = rng.randint(1850, 1975)
    y_report, y_second, y_exhibit, y_medal = distinct_years(rng, 4, y_dep + 1, y_dep + 40, [y_dep])
    scientists, days, samples = distinct_counts(rng, [(4, 16, 1), (40, 300, 1), (150, 2400, 10)])
    crew = rng.choice([n for n in range(scientists + 3, 41) if n not in (days, samples)])
    s.person("leader", leader)
    s.person("deputy", deputy)
    s.fact("port", port, "town", TOWNS)
    s.fact("base", base, "town", TOWNS)
    s.fact("destination", rng.choice(REGIONS), "region", REGIONS)
    s.fact("vessel", rng.choice(RESEARCH_SHIPS), "vessel", RESEARCH_SHIPS)
    find, find2 = rng.sample(EXPEDITION_FINDS, 2)
    s.fact("find", find, "find", EXPEDITION_FINDS)
    s.fact("find2", find2, "find", EXPEDITION_FINDS)
    s.year("y_dep", y_dep)
    s.year("y_report", y_report)
    s.year("y_second", y_second)
    s.year("y_exhibit", y_exhibit)
    s.year("y_medal", y_medal)
    s.count("scientists", scientists)
    s.count("crew", crew)
    s.count("days", days)
    s.count("samples", samples)
    s.fact("purpose", rng.choice(PURPOSE_REASONS), "reason:purpose", PURPOSE_REASONS)
    s.fact("return_reason", rng.choice(RETURN_REASONS), "reason:return", RETURN_REASONS)
    s.items("kit", rng.sample(EQUIPMENT, 3), EQUIPMENT)
    return s


EXPEDITION_TEMPLATES = (
    "In {y_dep} an expedition led by {leader} sailed from {port} aboard the {vessel}, bound for "
    "{destination}. It set out because {purpose}. The team of {scientists} scientists and {crew} crew, with "
    "{deputy} as second-in-command, made its base at {base}. They carried {kit1}, {kit2} and {kit3}. They had "
    "hoped to find {find2}, but their greatest find was {find}. After {days} days they turned back because "
    "{return_reason}, bringing home {samples} samples. {leader_last}'s report was published in {y_report}. A "
    "second expedition went out in {y_second}, an exhibition about the journey opened in {y_exhibit}, and "
    "{leader_last} received a medal from the geographic society in {y_medal}.",
    "The {vessel} left {port} in {y_dep} carrying {scientists} scientists and {crew} crew to {destination}, "
    "where they made their base at {base}. The expedition's leader was {leader}, and {deputy} was "
    "second-in-command. It had set out because {purpose}. Among the equipment were {kit1}, {kit2} and "
    "{kit3}. The team collected {samples} samples. It never found {find2}, but its most famous find was "
    "{find}. After {days} days it had to turn back because {return_reason}. {leader_last} received a medal "
    "from the geographic society in {y_medal}. The report came out in {y_report}, an exhibition opened in "
    "{y_exhibit}, and a second expedition set out in {y_second}.",
    "{leader} had long wanted to reach {destination}, and in {y_dep} {leader_last} finally set out from "
    "{port} aboard the {vessel}, because {purpose}. With {deputy} as second-in-command, {scientists} "
    "scientists and {crew} crew set up their base at {base}, equipped with {kit1}, {kit2} and {kit3}. Their "
    "best find was {find}, though they never found {find2}. They gathered {samples} samples before turning "
    "back after {days} days, because {return_reason}. An exhibition about the journey opened in "
    "{y_exhibit}. {leader_last}'s report appeared in {y_report}, a second expedition went out in {y_second}, "
    "and the geographic society gave {leader_last} a medal in {y_medal}.",
)

EXPEDITION = Domain(
    name="expedition",
    draw=draw_expedition,
    templates=EXPEDITION_TEMPLATES,
    asks=(
        Ask("lookup_who", "leader", ("Who led the expedition that sailed aboard the {vessel}?",)),
        Ask("lookup_who", "deputy", ("Who was second-in-command of {leader}'s expedition?",)),
        Ask("lookup_what", "find", ("What was the most famous find of {leader}'s expedition?",)),
        Ask("lookup_what", "vessel", ("On which ship did {leader}'s expedition sail?",)),
        Ask("lookup_where", "port", ("From which port did {leader}'s expedition set out?",)),
        Ask("lookup_where", "base", ("Where did {leader}'s expedition make its base?",)),
        Ask("lookup_where", "destination", ("Where was {leader}'s expedition going?",)),
        Ask("lookup_when", "y_dep", ("In which year did {leader}'s expedition set out?",)),
        Ask("lookup_when", "y_report", ("When was the report on {leader}'s expedition published?",)),
        Ask("lookup_when", "y_second", ("In which year did a second expedition follow {leader}'s?",)),
        Ask("lookup_when", "y_medal", ("When did {leader} receive a medal from the geographic society?",)),
        Ask("numbers", "scientists", ("How many scientists were in {leader}'s team?",)),
        Ask("numbers", "crew", ("How many crew went on {leader}'s expedition?",)),
        Ask("numbers", "days", ("After how many days did {leader}'s expedition turn back?",)),
        Ask("numbers", "samples", ("How many samples did {leader}'s expedition collect?",)),
        Ask("cause", "purpose", ("Why did {leader}'s expedition set out for {destination}?",)),
        Ask("cause", "return_reason", ("Why did {leader}'s expedition turn back?",)),
    ),
    events=(
        Event("y_report", "{leader}'s report was published", "the publication of the report"),
        Event("y_second", "A second expedition set out", "the second expedition"),
        Event("y_exhibit", "An exhibition about the journey opened", "the opening of the exhibition"),
        Event("y_medal", "{leader} received a medal", "the award of the medal to {leader}"),
    ),
    ariths=(
        Arith("sum", "scientists", "crew", ("How many people, scientists and crew, went on {leader}'s expedition?",)),
        Arith("diff", "crew", "scientists", ("How many more crew than scientists went on {leader}'s expedition?",)),
        Arith(
            "diff",
            "y_report",
            "y_dep",
            ("How many years after the expedition set out was {leader}'s report published?",),
        ),
    ),
    negation=("Which of these is NOT mentioned as something {leader}'s expedition carried?",),
    scope="in the story of {leader}'s expedition",
)

DOMAINS = (TOWN, COMPANY, SCIENTIST, MUSEUM, CLUB, SHIP, FESTIVAL, EXPEDITION)


# ---------------------------------------------------------------- wrong choices


def pick(
    answer: str,
    preferred: Sequence[str],
    pool: Sequence[str],
    rng: random.Random,
    question: str,
    max_preferred: int = 3,
) -> tuple[str, ...]:
    """Three wrong choices: up to ``max_preferred`` from ``preferred`` (same passage), the rest from
    ``pool``; never the answer, never twice, never a text the question mentions."""
    seen = {norm(answer)}
    out: list[str] = []
    for group, limit in ((preferred, max_preferred), (pool, N_CHOICES - 1)):
        taken = 0
        for cand in rng.sample(list(group), len(group)):
            if len(out) == N_CHOICES - 1 or taken == limit:
                break
            if norm(cand) in seen or mentions(question, cand):
                continue
            out.append(cand)
            seen.add(norm(cand))
            taken += 1
    if len(out) < N_CHOICES - 1:
        raise ValueError(f"not enough wrong choices for {answer!r} in {question!r}")
    return tuple(out)


def name_pool(sheet: Sheet, rng: random.Random) -> list[str]:
    """Full names that share neither first name nor surname with anyone in the passage."""
    used = {p.first for p in sheet.people} | {p.last for p in sheet.people}
    firsts = [f for f in FIRST_F + FIRST_M if f not in used]
    lasts = [s for s in SURNAMES if s not in used]
    return [f"{f} {s}" for f, s in zip(rng.sample(firsts, 8), rng.sample(lasts, 8), strict=True)]


def person_ok(name: str, question: str) -> bool:
    """A person may be a choice only if the question names neither them nor their surname."""
    return not mentions(question, name) and not mentions(question, name.split()[-1])


def granularity(n: int) -> int:
    """The round unit of ``n`` (10 for 4,250; 100 for 4,200), at most 1,000 and at most ``n`` / 10."""
    unit = 1
    while unit < 1000 and n % (unit * 10) == 0 and n // (unit * 10) >= 10:
        unit *= 10
    return unit


def near_numbers(n: int) -> list[int]:
    """Plausible wrong counts close to ``n`` and rounded like it."""
    if n < 20:
        return [m for m in (n - 3, n - 2, n - 1, n + 1, n + 2, n + 3, n + 4) if m > 0]
    unit = granularity(n)
    factors = (0.6, 0.75, 0.85, 1.15, 1.3, 1.5, 2.0)
    out = {max(unit, round(n * f / unit) * unit) for f in factors} | {n + unit, n - unit}
    return sorted(m for m in out if m > 0 and m != n)


def year_choices(answer: int, sheet: Sheet, rng: random.Random, question: str) -> tuple[str, ...]:
    """Other years of the passage first, then years close to the answer."""
    others = [s.text for s in sheet.slots.values() if s.kind == "year" and s.text != str(answer)]
    near = [str(answer + d) for d in (-12, -7, -5, -3, -2, -1, 1, 2, 3, 5, 7, 12)]
    return pick(str(answer), others, near, rng, question)


def count_choices(answer: int, sheet: Sheet, rng: random.Random, question: str) -> tuple[str, ...]:
    """Other counts of the passage within a factor of 10 first, then counts close to the answer."""
    others = [
        s.text for s in sheet.slots.values() if s.kind == "count" and answer / 10 <= as_int(s.text) <= answer * 10
    ]
    near = [f"{m:,}" for m in near_numbers(answer)]
    return pick(f"{answer:,}", others, near, rng, question, max_preferred=2)


# ---------------------------------------------------------------- questions


def lookup_item(ask: Ask, sheet: Sheet, rng: random.Random) -> Item:
    """A look-up, numbers or cause question about one slot."""
    slot = sheet.slots[ask.key]
    question = fmt(rng.choice(ask.questions), sheet.values)
    if slot.kind == "year":
        distractors = year_choices(int(slot.text), sheet, rng, question)
    elif slot.kind == "count":
        distractors = count_choices(as_int(slot.text), sheet, rng, question)
    elif slot.kind == "person":
        others = [s.text for k, s in sheet.slots.items() if s.kind == "person" and k != ask.key]
        others = [p for p in others if person_ok(p, question)]
        distractors = pick(slot.text, others, name_pool(sheet, rng), rng, question, max_preferred=2)
    else:
        others = [s.text for k, s in sheet.slots.items() if s.family == slot.family and k != ask.key]
        others += list(sheet.listed) if sheet.list_family == slot.family else []
        distractors = pick(slot.text, others, slot.pool, rng, question, max_preferred=2)
    return Item(ask.topic, question, cap(slot.text), tuple(cap(d) for d in distractors))


def order_item(domain: Domain, sheet: Sheet, rng: random.Random) -> Item:
    """Which of the four dated events came first (or last)."""
    last = rng.random() < 0.35
    scope = fmt(domain.scope, sheet.values)
    question = rng.choice(ORDER_LAST if last else ORDER_FIRST).format(scope=scope)
    dated = [(cap(fmt(e.choice, sheet.values)), int(sheet.slots[e.key].text)) for e in domain.events]
    chosen = max(dated, key=lambda cy: cy[1]) if last else min(dated, key=lambda cy: cy[1])
    distractors = tuple(c for c, _ in dated if c != chosen[0])
    return Item("event_order", question, chosen[0], distractors, tuple(dated), "last" if last else "first")


def arith_item(domain: Domain, sheet: Sheet, rng: random.Random) -> Item:
    """A sum or difference of two stated numbers, or the years between two events."""
    if rng.random() < 0.3:
        ev_a, ev_b = rng.sample(domain.events, 2)
        ya, yb = int(sheet.slots[ev_a.key].text), int(sheet.slots[ev_b.key].text)
        question = BETWEEN[0].format(
            intro=cap(fmt(domain.scope, sheet.values)), a=fmt(ev_a.noun, sheet.values), b=fmt(ev_b.noun, sheet.values)
        )
        a, b = (ya, yb) if ya > yb else (yb, ya)
        spec_op, texts, kind = "diff", (str(a), str(b)), "year"
    else:
        spec = rng.choice(domain.ariths)
        question = fmt(rng.choice(spec.questions), sheet.values)
        a, b = as_int(sheet.slots[spec.a].text), as_int(sheet.slots[spec.b].text)
        spec_op, texts, kind = spec.op, (sheet.slots[spec.a].text, sheet.slots[spec.b].text), sheet.slots[spec.a].kind
    answer = a - b if spec_op == "diff" else a + b
    distractors = arith_choices(spec_op, a, b, answer, kind, sheet, rng, question)
    return Item("arithmetic", question, f"{answer:,}", distractors, ((texts[0], a), (texts[1], b)), spec_op)


def arith_choices(
    op: str, a: int, b: int, answer: int, kind: str, sheet: Sheet, rng: random.Random, question: str
) -> tuple[str, ...]:
    """Wrong results a careless reader might give: the other operation, one operand, near misses, or
    (for years) the gap between two other years of the passage."""
    if kind == "year":
        years = sorted({int(s.text) for s in sheet.slots.values() if s.kind == "year"})
        preferred = [y2 - y1 for y1, y2 in combinations(years, 2) if y2 - y1 > 0 and abs(y2 - y1 - answer) <= 40]
        near = [answer + d for d in (-10, -2, -1, 1, 2, 10)]
    else:
        preferred = [abs(a - b)] if op == "sum" else [a + b, b]
        unit = 10 if answer >= 100 else 1
        near = [answer + d * unit for d in (-10, -2, -1, 1, 2, 10)] + [answer + d for d in (-1, 1)]
    preferred = [p for p in preferred if p > 0]
    near = [n for n in near if n > 0]
    return pick(f"{answer:,}", [f"{p:,}" for p in preferred], [f"{n:,}" for n in near], rng, question, max_preferred=2)


def negation_item(domain: Domain, sheet: Sheet, passage: str, rng: random.Random) -> Item:
    """Which of four items is NOT in the passage's list (the other three are)."""
    question = fmt(rng.choice(domain.negation), sheet.values)
    unmentioned = [p for p in sheet.list_pool if absent(passage, p)]
    answer = rng.choice(unmentioned)
    return Item("negation", question, cap(answer), tuple(cap(x) for x in sheet.listed))


def topic_items(domain: Domain, sheet: Sheet, passage: str, topic: str, rng: random.Random) -> Item:
    """One question of ``topic`` about the passage."""
    if topic == "event_order":
        return order_item(domain, sheet, rng)
    if topic == "arithmetic":
        return arith_item(domain, sheet, rng)
    if topic == "negation":
        return negation_item(domain, sheet, passage, rng)
    ask = rng.choice([a for a in domain.asks if a.topic == topic])
    return lookup_item(ask, sheet, rng)


def make_passage(domain: Domain, rng: random.Random, n_questions: int, topic_counts: Counter[str]) -> Passage:
    """Draw facts, write the passage and ask ``n_questions`` questions of the least-used topics."""
    sheet = domain.draw(rng)
    text = fmt(rng.choice(domain.templates), sheet.values)
    ranked = sorted(TOPICS, key=lambda t: (topic_counts[t], rng.random()))
    items = tuple(topic_items(domain, sheet, text, t, rng) for t in ranked[:n_questions])
    missing = [s.text for s in sheet.slots.values() if not mentions(text, s.text)]
    missing += [x for x in sheet.listed if not mentions(text, x)]
    if missing:
        raise ValueError(f"{domain.name}: passage does not state {missing}: {text}")
    return Passage(domain.name, text, items)


# ---------------------------------------------------------------- splits


@dataclass
class Split:
    """The passages of one split and what generating them skipped."""

    name: str
    passages: list[Passage] = field(default_factory=list)
    skipped_same_text: int = 0
    skipped_leaky_qa: int = 0

    @property
    def n_items(self) -> int:
        return sum(len(p.items) for p in self.passages)


def generate(name: str, size: int, train: Split | None = None) -> Split:
    """Passages from the seed ``SEED|name`` until ``size`` questions. For eval, passages whose text or
    any (question, answer) pair is in ``train`` are dropped."""
    split = Split(name)
    seen_text: set[str] = set()
    banned_text = {p.text for p in train.passages} if train else set()
    banned_qa = {(i.question, i.answer) for p in train.passages for i in p.items} if train else set()
    topic_counts: Counter[str] = Counter()
    n = 0
    while split.n_items < size:
        rng = random.Random(f"{SEED}|{name}|{n}")
        domain = DOMAINS[n % len(DOMAINS)]
        n += 1
        k = min(rng.choice(QUESTIONS_PER_PASSAGE), size - split.n_items)
        passage = make_passage(domain, rng, k, topic_counts)
        if passage.text in seen_text or passage.text in banned_text:
            split.skipped_same_text += 1
            continue
        if any((i.question, i.answer) in banned_qa for i in passage.items):
            split.skipped_leaky_qa += 1
            continue
        seen_text.add(passage.text)
        topic_counts.update(i.topic for i in passage.items)
        split.passages.append(passage)
    return split


def to_records(split: Split) -> list[tuple[dict[str, object], Item]]:
    """Shuffle the questions, place each answer at a position balanced within the topic, number them."""
    pairs = [(p, i) for p in split.passages for i in p.items]
    rng = random.Random(f"{SEED}|order|{split.name}")
    rng.shuffle(pairs)
    slots: dict[str, list[int]] = {}
    start = 0  # each topic goes on round the cycle where the last one stopped: balanced overall too
    for topic in TOPICS:
        n = sum(1 for _, i in pairs if i.topic == topic)
        slots[topic] = [(start + k) % N_CHOICES for k in range(n)]
        random.Random(f"{SEED}|positions|{split.name}|{topic}").shuffle(slots[topic])
        start += n
    out = []
    for n, (passage, item) in enumerate(pairs, start=1):
        position = slots[item.topic].pop()
        choices = list(item.distractors)
        random.Random(f"{SEED}|choices|{split.name}|{n}").shuffle(choices)
        choices.insert(position, item.answer)
        record: dict[str, object] = {
            "id": f"rc-{split.name}-{n:05d}",
            "topic": item.topic,
            "context": passage.text,
            "question": item.question,
            "choices": choices,
            "answer": position,
        }
        out.append((record, item))
    return out


# ---------------------------------------------------------------- checks


def check_item(record: dict[str, object], item: Item) -> list[str]:
    """Problems with one example: choices, index, and whether the passage supports the answer."""
    rid, context, question = record["id"], str(record["context"]), str(record["question"])
    choices = record["choices"]
    assert isinstance(choices, list)
    answer = record["answer"]
    problems = []
    if len(choices) != N_CHOICES or len({norm(c) for c in choices}) != N_CHOICES:
        problems.append(f"{rid}: choices are not {N_CHOICES} distinct texts: {choices}")
    if not isinstance(answer, int) or not 0 <= answer < len(choices) or choices[answer] != item.answer:
        problems.append(f"{rid}: bad answer index {answer}")
    words = len(context.split())
    if not MIN_WORDS <= words <= MAX_WORDS:
        problems.append(f"{rid}: passage has {words} words")
    if item.topic.startswith("lookup") or item.topic in ("numbers", "cause"):
        if not mentions(context, item.answer):
            problems.append(f"{rid}: answer {item.answer!r} is not in the passage")
        if mentions(question, item.answer):
            problems.append(f"{rid}: the question gives the answer away")
    elif item.topic == "negation":
        if not absent(context, item.answer):
            problems.append(f"{rid}: 'not mentioned' answer {item.answer!r} is in the passage")
        problems += [
            f"{rid}: listed item {d!r} is not in the passage" for d in item.distractors if not mentions(context, d)
        ]
    elif item.topic == "event_order":
        years = [y for _, y in item.evidence]
        best = max(years) if item.op == "last" else min(years)
        if len(set(years)) != len(years) or dict(item.evidence)[item.answer] != best:
            problems.append(f"{rid}: the order answer is not the {item.op} event")
        problems += [f"{rid}: year {y} is not in the passage" for y in years if not mentions(context, str(y))]
    elif item.topic == "arithmetic":
        (ta, a), (tb, b) = item.evidence
        if not (mentions(context, ta) and mentions(context, tb)):
            problems.append(f"{rid}: operands {ta}, {tb} are not in the passage")
        if as_int(item.answer) != (a - b if item.op == "diff" else a + b) or as_int(item.answer) <= 0:
            problems.append(f"{rid}: wrong arithmetic answer {item.answer}")
    return problems


def check_splits(
    train: list[tuple[dict[str, object], Item]], evals: list[tuple[dict[str, object], Item]]
) -> tuple[list[str], dict[str, int]]:
    """All problems (empty when all is well) and the leakage numbers for the card."""
    problems = [p for rec, item in train + evals for p in check_item(rec, item)]
    for name, recs in (("train", train), ("eval", evals)):
        pairs = Counter((str(r["context"]), str(r["question"])) for r, _ in recs)
        problems += [f"{name}: question asked twice about one passage: {q}" for (_, q), n in pairs.items() if n > 1]
        for topic in TOPICS:
            pos = Counter(int(str(r["answer"])) for r, i in recs if i.topic == topic)
            if max(pos.values()) - min(pos[k] for k in range(N_CHOICES)) > 1:
                problems.append(f"{name}/{topic}: answer positions unbalanced {dict(pos)}")
    train_ctx = {str(r["context"]) for r, _ in train}
    eval_ctx = {str(r["context"]) for r, _ in evals}
    train_pairs = {(str(r["context"]), str(r["question"])) for r, _ in train}
    train_qa = {(str(r["question"]), i.answer) for r, i in train}
    stats = {
        "train_passages": len(train_ctx),
        "eval_passages": len(eval_ctx),
        "shared_passages": len(train_ctx & eval_ctx),
        "shared_passage_questions": sum((str(r["context"]), str(r["question"])) in train_pairs for r, _ in evals),
        "shared_question_answers": sum((str(r["question"]), i.answer) in train_qa for r, i in evals),
    }
    for key in ("shared_passages", "shared_passage_questions", "shared_question_answers"):
        if stats[key]:
            problems.append(f"leakage: {key} = {stats[key]}")
    return problems, stats


# ---------------------------------------------------------------- output


def write_jsonl(path: Path, records: list[tuple[dict[str, object], Item]]) -> None:
    """One JSON object per line, UTF-8, "\\n" line ends."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r, _ in records)
    path.write_text(text, encoding="utf-8", newline="\n")


def card_text(
    train: list[tuple[dict[str, object], Item]],
    evals: list[tuple[dict[str, object], Item]],
    stats: dict[str, int],
    eval_split: Split,
) -> str:
    """The task card, as YAML (strings written as JSON, which YAML reads as double-quoted scalars)."""
    totals = Counter(i.topic for _, i in train + evals)
    checks = [
        f"train and eval passages come from disjoint seeds ('{SEED}|train|<n>' and '{SEED}|eval|<n>')",
        f"0 of {stats['eval_passages']} eval passages equal any of the {stats['train_passages']} train passages",
        f"0 of {len(evals)} eval (passage, question) pairs occur in train",
        f"0 of {len(evals)} eval (question, answer) pairs occur in train "
        f"(candidate eval passages dropped for this: {eval_split.skipped_leaky_qa}; "
        f"for repeating a passage text: {eval_split.skipped_same_text})",
        "no passage repeats within a split and no question repeats within a passage",
        f"every example has {N_CHOICES} distinct choices and a valid 0-based answer index",
        "every answer is checked against its passage: look-up, numbers and cause answers are stated in it, "
        "arithmetic answers are computed from two numbers stated in it, event-order answers are the "
        "earliest or latest of four years stated in it, negation answers are absent from it while the three "
        "other choices are present",
        f"every passage has {MIN_WORDS}-{MAX_WORDS} words",
        "the right answer's position is balanced over A-D within each split and topic",
    ]
    source = (
        "Generated by the damoc contributors with scripts/build_reading_comprehension.py (deterministic, "
        "seeded); the passages, people, places and events are fictional and written from word lists in the "
        "script. No existing reading-comprehension dataset was used."
    )
    lines = [
        "name: reading_comprehension",
        "type: multiple_choice",
        f"description: {json.dumps(DESCRIPTION, ensure_ascii=False)}",
        f"source: {json.dumps(source)}",
        "licence: Apache-2.0",
        "fields: {question: question, choices: choices, answer: answer, context: context}",
        f"sizes: {{train: {len(train)}, eval: {len(evals)}}}",
        "metric: acc",
        "topics:",
        *(f"  {t}: {totals[t]}" for t in TOPICS),
        "leakage_check:",
        *(f"  - {json.dumps(c)}" for c in checks),
    ]
    return "\n".join(lines) + "\n"


def report(train: list[tuple[dict[str, object], Item]], evals: list[tuple[dict[str, object], Item]]) -> None:
    """Print the counts per topic and domain and the answer-position balance."""
    tr, ev = Counter(i.topic for _, i in train), Counter(i.topic for _, i in evals)
    print(f"{'topic':<16}{'train':>7}{'eval':>7}")
    for t in TOPICS:
        print(f"{t:<16}{tr[t]:>7}{ev[t]:>7}")
    print(f"{'total':<16}{len(train):>7}{len(evals):>7}")
    for name, recs in (("train", train), ("eval", evals)):
        pos = Counter(int(str(r["answer"])) for r, _ in recs)
        print(f"answer positions {name}: " + " ".join(f"{'ABCD'[p]}={pos[p]}" for p in range(N_CHOICES)))


def main() -> int:
    train_split = generate("train", SIZES["train"])
    eval_split = generate("eval", SIZES["eval"], train=train_split)
    train, evals = to_records(train_split), to_records(eval_split)
    problems, stats = check_splits(train, evals)
    if problems:
        print("\n".join(problems[:50]), file=sys.stderr)
        print(f"{len(problems)} problems", file=sys.stderr)
        return 1
    write_jsonl(TASK_DIR / "train.jsonl", train)
    write_jsonl(TASK_DIR / "eval.jsonl", evals)
    (TASK_DIR / "card.yaml").write_text(card_text(train, evals, stats, eval_split), encoding="utf-8", newline="\n")
    report(train, evals)
    print(
        f"passages: train {stats['train_passages']}, eval {stats['eval_passages']}; eval candidates dropped: "
        f"{eval_split.skipped_same_text} same text, {eval_split.skipped_leaky_qa} shared (question, answer)"
    )
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(TASK_DIR.glob("*.jsonl")))).hexdigest()
    print(f"checks passed; sha256 of the splits: {digest[:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
