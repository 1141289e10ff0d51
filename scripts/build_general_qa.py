"""Build the bundled ``general_qa`` multiple-choice benchmark from hand-written fact tables.

``general_qa`` is the larger sibling of ``world_facts``: it contains every ``world_facts`` question
(made by the functions of ``scripts/build_world_facts.py`` from that task's tables) plus questions
from the tables in ``src/damoc/bundled_tasks/general_qa/tables/`` (sub-national capitals, the Solar
System, discoveries, inventions, paintings, music, rivers, mountains, the human body, SI units,
historical dates and sports). It writes ``train.jsonl``, ``eval.jsonl`` and ``card.yaml`` next to
those tables. Standard library only; the output is byte-identical from one run to the next.

It follows the rules of ``build_world_facts.py`` and reuses its code (items, distractor picking,
the split, the records, the checks, most of them from ``scripts/taskgen.py``), including its seed. Because the seed and the split function
are shared, every ``world_facts`` fact lands in the same split here as in ``world_facts``, so the
two tasks can be used together without an eval question of one being a train question of the other.

- A split unit is "relation|entity"; every template of one fact shares it. Where two relations of
  one entity give each other away (a mountain's country and "the highest mountain in <country>", a
  river's country and a city on it, a bone's common name and where it is), they share one unit.
- Wrong choices come from the same column of the same table, never equal the answer, never repeat,
  and skip values that could also be right (the ``also`` columns, folded country names such as West
  Germany/Germany, overlapping mountain ranges). Reverse questions are only asked where the answer
  is unique in the table.
- The answer's position is balanced over A-D within each split and topic.

Run it from the repository root: ``python3 scripts/build_general_qa.py``. It prints counts per topic
and exits non-zero if a check fails (leakage, choices, answer index, an answer given away by its
question, or a world_facts fact in the other split of world_facts).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from functools import partial
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))
sys.dont_write_bytecode = True  # leave no __pycache__ in scripts/

import build_world_facts as wf  # noqa: E402
import taskgen  # noqa: E402
from build_world_facts import make_item  # noqa: E402
from taskgen import N_CHOICES, Item, Records  # noqa: E402

TASK_DIR = SCRIPTS.parent / "src" / "damoc" / "bundled_tasks" / "general_qa"
TABLES = TASK_DIR / "tables"
PREFIX = "gqa"

NEW_TOPICS = (
    "subnational_capitals",
    "solar_system",
    "discoveries",
    "inventions",
    "art",
    "music",
    "rivers",
    "mountains",
    "human_body",
    "units",
    "history",
    "sports",
)
TOPICS = (*wf.TOPICS, *NEW_TOPICS)

CONTINENTS = (*wf.CONTINENTS, "Antarctica")
# Names of one country at different times: never offered as wrong choices for each other, and a
# reverse question is not asked where the folded name has several values.
SAME_COUNTRY = {"West Germany": "Germany", "Soviet Union": "Russia"}
# Ranges that some classifications nest inside one another.
RANGE_CONFLICTS = frozenset(
    frozenset(pair)
    for pair in (
        ("Himalayas", "Karakoram"),
        ("Himalayas", "Hindu Kush"),
        ("Karakoram", "Hindu Kush"),
        ("Mátra", "Carpathian Mountains"),
    )
)
SUBDIVISION_KIND = {
    "United States": "US state",
    "Canada": "Canadian province or territory",
    "Australia": "Australian state or territory",
    "Germany": "German state",
}

DESCRIPTION = (
    "English multiple-choice general-knowledge questions (four choices, one right answer): all of "
    "world_facts (countries, chemical elements, authors, animal groups) plus capitals of US states, "
    "Canadian provinces, Australian and German states; planets and moons; scientists' discoveries and "
    "inventors; paintings (painter, museum, painter's nationality); musical works and composers; rivers "
    "(continent, country, cities on them); mountains (range, country, continent, highest in a country); "
    "organs, bones and body systems; SI units and prefixes; dates of historical events; and sports (team "
    "sizes, Olympic and FIFA World Cup hosts and winners). Every question is generated from small fact "
    "tables written by hand, so each answer can be traced to one table row; wrong choices come from the "
    "same table column and exclude values that could also be right. The train and eval splits share no "
    "(entity, relation) pair, and world_facts facts keep their world_facts split."
)
SOURCE = (
    "Authored by the damoc contributors from public general-knowledge facts; the fact tables are the "
    "world_facts tables (../world_facts/tables/) and the tables in tables/, and the examples are generated "
    "by scripts/build_general_qa.py (deterministic)."
)


# ---------------------------------------------------------------- small helpers


def table(name: str) -> list[dict[str, str]]:
    """Rows of ``general_qa/tables/<name>.csv``."""
    return taskgen.read_table(TABLES, name)


def listed(text: str) -> set[str]:
    """The values of a ``;``-separated cell."""
    return set(taskgen.split_cell(text))


def bare(text: str) -> str:
    """``text`` without a leading lower-case article ("the Mona Lisa" -> "Mona Lisa")."""
    return text.removeprefix("the ")


def ordinal(n: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def number_within(target: int, width: int, text: str) -> bool:
    """Whether the number at the start of ``text`` is within ``width`` of ``target``."""
    digits = re.match(r"-?\d+", text.replace("10^", ""))
    return digits is not None and abs(int(digits.group()) - target) <= width


def same_country(name: str) -> str:
    """A country name with its historical forms folded together (West Germany -> Germany)."""
    return SAME_COUNTRY.get(name, name)


def country_phrase(name: str, articles: dict[str, str]) -> str:
    """The country as it reads inside a sentence ("the United States"), from the world_facts table."""
    return articles.get(name, name)


def by_column(rows: list[dict[str, str]], key: str, value: str) -> dict[str, str]:
    """``{row[key]: row[value]}`` for the rows where ``value`` is filled."""
    return {r[key]: r[value] for r in rows if r[value]}


# ---------------------------------------------------------------- places


def subdivision_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "What is the capital of the US state of Texas?" and "Which US state has Austin as its capital?"
    (wrong choices from the same country, the same US region first)."""
    items = []
    for row in rows:
        peers = [r for r in rows if r["country"] == row["country"]]
        near = {r["subdivision"] for r in peers if row["region"] and r["region"] == row["region"]}
        unit = f"state_capital|{row['country']}|{row['subdivision']}"
        q = f"What is the capital of {row['phrase']}?"
        near_capitals = {r["capital"] for r in peers if r["subdivision"] in near}
        pool = [r["capital"] for r in peers]
        items.append(make_item("subnational_capitals", unit, q, row["capital"], pool, near_capitals.__contains__))
        if row["subdivision"].lower() in row["capital"].lower():
            continue  # "Which US state has Oklahoma City as its capital?" gives itself away
        q = f"Which {SUBDIVISION_KIND[row['country']]} has {row['capital']} as its capital?"
        pool = [r["subdivision"] for r in peers]
        items.append(make_item("subnational_capitals", unit, q, row["subdivision"], pool, near.__contains__))
    return items


def river_items(rivers: list[dict[str, str]], cities: list[dict[str, str]]) -> list[Item]:
    """The continent of a river, the country it lies in (rivers within one country only), the river
    that flows through a city and, for a river with one city in the table, the city on it. All the
    questions about one river share a split unit."""
    continent_of = by_column(rivers, "river", "continent")
    items = []
    for row in rivers:
        river, unit = row["river"], f"river|{row['river']}"
        q = f"On which continent does the {river} flow?"
        items.append(make_item("rivers", unit, q, row["continent"], wf.CONTINENTS))
        if row["country"]:
            near = {r["country"] for r in rivers if r["continent"] == row["continent"]}
            q = f"The {river} flows entirely within which country?"
            pool = [r["country"] for r in rivers]
            items.append(make_item("rivers", unit, q, row["country"], pool, near.__contains__))
    on_river = Counter(c["river"] for c in cities)
    for city in cities:
        river, unit = city["river"], f"river|{city['river']}"
        near = {r for r, c in continent_of.items() if c == continent_of[river]}
        q = f"Which river flows through {city['city']}?"
        items.append(make_item("rivers", unit, q, river, continent_of, near.__contains__))
        if on_river[river] == 1:
            q = f"Which of these cities lies on the {river}?"
            pool = [c["city"] for c in cities if c["river"] != river]
            items.append(make_item("rivers", unit, q, city["city"], pool))
    return items


def range_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "Which mountain range is K2 part of?" (ranges that may nest are never wrong choices)."""
    items = []
    for row in (r for r in rows if r["range"]):
        rng = row["range"]
        pool = [r["range"] for r in rows if frozenset((rng, r["range"])) not in RANGE_CONFLICTS]
        near = {r["range"] for r in rows if row["continent"] and r["continent"] == row["continent"]}
        q = f"Which mountain range is {row['mountain']} part of?"
        items.append(make_item("mountains", f"mountain|{bare(row['mountain'])}", q, rng, pool, near.__contains__))
    return items


def mountain_place_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "In which country is X located?" (mountains within one country) and "On which continent is X
    located?" (mountains whose continent is not disputed)."""
    items = []
    for row in rows:
        unit = f"mountain|{bare(row['mountain'])}"
        if row["country"] and row["country"] not in row["mountain"]:  # not "In which country is Mount Kenya?"
            near = {r["country"] for r in rows if row["continent"] and r["continent"] == row["continent"]}
            q = f"In which country is {row['mountain']} located?"
            pool = [r["country"] for r in rows]
            items.append(make_item("mountains", unit, q, row["country"], pool, near.__contains__))
        if row["continent"]:
            q = f"On which continent is {row['mountain']} located?"
            items.append(make_item("mountains", unit, q, row["continent"], CONTINENTS))
    return items


def highest_mountain_items(rows: list[dict[str, str]], articles: dict[str, str]) -> list[Item]:
    """ "What is the highest mountain in X?" (wrong choices: other mountains, the highest mountains of
    other countries on the same continent first; none of them can be higher and inside X). Not asked
    where the mountain is named after the country (Mount Kenya)."""
    items = []
    for row in rows:
        for country in sorted(c for c in listed(row["highest_in"]) if c not in row["mountain"]):
            near = {
                bare(r["mountain"])
                for r in rows
                if r["highest_in"] and row["continent"] and r["continent"] == row["continent"]
            }
            q = f"What is the highest mountain in {country_phrase(country, articles)}?"
            pool = [bare(r["mountain"]) for r in rows]
            unit = f"mountain|{bare(row['mountain'])}"
            items.append(make_item("mountains", unit, q, bare(row["mountain"]), pool, near.__contains__))
    return items


# ---------------------------------------------------------------- science


def planet_items(planets: list[dict[str, str]]) -> list[Item]:
    """ "Which planet is the 3rd planet from the Sun?" and "Counting outward from the Sun, what is
    Earth's position among the planets?"."""
    names = [p["planet"] for p in planets]
    positions = [ordinal(int(p["order"])) for p in planets]
    items = []
    for row in planets:
        place, unit = ordinal(int(row["order"])), f"planet_order|{row['planet']}"
        q = f"Which planet is the {place} planet from the Sun?"
        items.append(make_item("solar_system", unit, q, row["planet"], names))
        q = f"Counting outward from the Sun, what is {row['planet']}'s position among the planets?"
        items.append(make_item("solar_system", unit, q, place, positions))
    return items


def moon_items(moons: list[dict[str, str]], planets: list[dict[str, str]]) -> list[Item]:
    """ "Which planet does the moon Titan orbit?" and, for the largest moon of a planet, "What is the
    largest moon of Saturn?" (other moons of the same planet first)."""
    names = [p["planet"] for p in planets]
    items = []
    for row in moons:
        unit = f"moon|{row['moon']}"
        q = f"Which planet does the moon {row['moon']} orbit?"
        items.append(make_item("solar_system", unit, q, row["planet"], names))
        if row["largest"] == "yes":
            siblings = {m["moon"] for m in moons if m["planet"] == row["planet"]}
            q = f"What is the largest moon of {row['planet']}?"
            pool = [m["moon"] for m in moons]
            items.append(make_item("solar_system", unit, q, row["moon"], pool, siblings.__contains__))
    return items


def discovery_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "Who discovered penicillin?" and "Which of these achievements is credited to X?"."""
    people = Counter(r["person"] for r in rows)
    items = []
    for row in rows:
        unit = f"discovery|{row['person']}|{row['achievement']}"
        q = f"Who {row['achievement']}?"
        items.append(make_item("discoveries", unit, q, row["person"], [r["person"] for r in rows]))
        if people[row["person"]] == 1:
            q = f"Which of these achievements is credited to {row['person']}?"
            pool = [r["achievement"] for r in rows if r["person"] != row["person"]]
            items.append(make_item("discoveries", unit, q, row["achievement"], pool))
    return items


def invention_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "Who invented the telephone?" and "Which of these did X invent?"."""
    people = Counter(r["inventor"] for r in rows)
    items = []
    for row in rows:
        unit = f"invention|{bare(row['invention'])}"
        q = f"Who invented {row['invention']}?"
        items.append(make_item("inventions", unit, q, row["inventor"], [r["inventor"] for r in rows]))
        if people[row["inventor"]] == 1:
            q = f"Which of these did {row['inventor']} invent?"
            pool = [bare(r["invention"]) for r in rows if r["inventor"] != row["inventor"]]
            items.append(make_item("inventions", unit, q, bare(row["invention"]), pool))
    return items


def organ_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "Which organ system of the human body do the lungs belong to?" (systems that could also be
    argued, such as muscular for the heart, are never wrong choices)."""
    items = []
    for row in rows:
        verb = "do" if row["plural"] == "yes" else "does"
        q = f"Which organ system of the human body {verb} the {row['organ']} belong to?"
        pool = [f"{r['system']} system" for r in rows if r["system"] not in listed(row["also"])]
        items.append(make_item("human_body", f"organ_system|{row['organ']}", q, f"{row['system']} system", pool))
    return items


def bone_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "In which part of the body is the femur found?", "What is the common name for the patella?"
    and "Which bone is commonly called the kneecap?" (one split unit per bone)."""
    singles = [r["bone"] for r in rows if r["plural"] != "yes"]
    items = []
    for row in rows:
        unit, verb = f"bone|{row['bone']}", "are" if row["plural"] == "yes" else "is"
        q = f"In which part of the body {verb} the {row['bone']} found?"
        pool = [r["region"] for r in rows if r["region"] not in listed(row["also"])]
        items.append(make_item("human_body", unit, q, row["region"], pool))
        if row["common_name"]:
            q = f"What is the common name for the {row['bone']}?"
            pool = [r["common_name"] for r in rows]
            items.append(make_item("human_body", unit, q, row["common_name"], pool))
            q = f"Which bone is commonly called the {row['common_name']}?"
            items.append(make_item("human_body", unit, q, row["bone"], singles))
    return items


def si_unit_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "What does the SI unit joule measure?", "What is the SI unit of energy?", and the unit's symbol
    both ways (quantities that share a dimension, such as frequency and radioactivity, are never
    offered for each other)."""
    items = []
    for row in rows:
        unit, sym, also = row["unit"], row["symbol"], listed(row["also"])
        key = f"si_unit_quantity|{unit}"
        pool = [r["quantity"] for r in rows if r["quantity"] not in also]
        items.append(make_item("units", key, f"What does the SI unit {unit} measure?", row["quantity"], pool))
        pool = [r["unit"] for r in rows if r["quantity"] not in also]
        items.append(make_item("units", key, f"What is the SI unit of {row['quantity']}?", unit, pool))
        key = f"si_unit_symbol|{unit}"
        same_initial = partial(wf.first_letter_in, {sym[0].lower(), sym[0].upper()})
        q = f"What is the symbol for the SI unit {unit}?"
        items.append(make_item("units", key, q, sym, [r["symbol"] for r in rows], same_initial))
        q = f"Which SI unit has the symbol {sym}?"
        items.append(
            make_item("units", key, q, unit, [r["unit"] for r in rows], partial(wf.first_letter_in, {unit[0]}))
        )
    return items


def prefix_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "What factor does the SI prefix kilo- denote?" and "Which SI prefix has the symbol k?", both
    ways (prefixes close in size first)."""
    factor_of = {r["prefix"]: f"10^{r['exponent']}" for r in rows}
    items = []
    for row in rows:
        prefix, exp, factor = row["prefix"], int(row["exponent"]), factor_of[row["prefix"]]
        near_factor = partial(number_within, exp, 6)
        near_prefix = {p for p, f in factor_of.items() if number_within(exp, 6, f)}
        key = f"si_prefix_factor|{prefix}"
        q = f"What factor does the SI prefix {prefix}- denote?"
        items.append(make_item("units", key, q, factor, factor_of.values(), near_factor))
        q = f"Which SI prefix denotes a factor of {factor}?"
        items.append(make_item("units", key, q, prefix, factor_of, near_prefix.__contains__))
        key = f"si_prefix_symbol|{prefix}"
        q = f"What is the symbol for the SI prefix {prefix}-?"
        items.append(make_item("units", key, q, row["symbol"], [r["symbol"] for r in rows]))
        q = f"Which SI prefix has the symbol {row['symbol']}?"
        items.append(make_item("units", key, q, prefix, factor_of, near_prefix.__contains__))
    return items


# ---------------------------------------------------------------- art and music


def painting_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "Who painted The Night Watch?", "Which museum houses the painting The Night Watch?" and, for a
    painter with one painting in the table, "Which of these paintings is by X?"."""
    works = Counter(r["painter"] for r in rows)
    items = []
    for row in rows:
        title, painter, unit = row["painting"], row["painter"], f"painting|{bare(row['painting'])}"
        items.append(make_item("art", unit, f"Who painted {title}?", painter, [r["painter"] for r in rows]))
        if row["museum"]:
            q = f"Which museum houses the painting {bare(title)}?"
            items.append(make_item("art", unit, q, row["museum"], [r["museum"] for r in rows]))
        if works[painter] == 1:
            q = f"Which of these paintings is by {painter}?"
            pool = [bare(r["painting"]) for r in rows if r["painter"] != painter]
            items.append(make_item("art", unit, q, bare(title), pool))
    return items


def music_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "Who composed the opera Carmen?" and, for a composer with one work in the table, "Which of
    these works was composed by X?"."""
    works = Counter(r["composer"] for r in rows)
    items = []
    for row in rows:
        work, composer, unit = row["work"], row["composer"], f"work|{row['work']}"
        q = f"Who composed the {row['kind']} {work}?" if row["kind"] else f"Who composed {work}?"
        items.append(make_item("music", unit, q, composer, [r["composer"] for r in rows]))
        if works[composer] == 1:
            q = f"Which of these works was composed by {composer}?"
            pool = [r["work"] for r in rows if r["composer"] != composer]
            items.append(make_item("music", unit, q, work, pool))
    return items


def nationality_items(rows: list[dict[str, str]], person: str, noun: str, topic: str) -> list[Item]:
    """ "What nationality was the painter X?" and, for a nationality held by one person in the table,
    "Which of these painters was Norwegian?" (nationalities in the ``also`` column, such as French for
    Picasso, are never wrong choices; people of unknown nationality are left out)."""
    rows = [r for r in rows if r["nationality"]]
    held_by = Counter(r["nationality"] for r in rows)
    items = []
    for row in rows:
        nat, who, also = row["nationality"], row[person], listed(row["also"])
        unit = f"{noun}_nationality|{who}"
        pool = [r["nationality"] for r in rows if r["nationality"] not in also]
        items.append(make_item(topic, unit, f"What nationality was the {noun} {who}?", nat, pool))
        if held_by[nat] == 1:
            q = f"Which of these {noun}s was {nat}?"
            pool = [r[person] for r in rows if r["nationality"] != nat and nat not in listed(r["also"])]
            items.append(make_item(topic, unit, q, who, pool))
    return items


# ---------------------------------------------------------------- history and sport


def century(year: int) -> str:
    """The century of a year AD, counted strictly (1901-2000 is the 20th century)."""
    return f"{ordinal((year - 1) // 100 + 1)} century"


def event_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "In which year did X take place?", "In which century did X take place?" (not for years ending
    in 00, which are read both ways) and, for a year with one event, "Which of these events took place
    in Y?" (close years and centuries first)."""
    years = Counter(int(r["year"]) for r in rows)
    centuries = [century(y) for y in years if y % 100]
    items = []
    for row in rows:
        event, year, unit = row["event"], int(row["year"]), f"event|{row['event']}"
        q = f"In which year did {event} take place?"
        items.append(make_item("history", unit, q, str(year), map(str, years), partial(number_within, year, 40)))
        if year % 100:
            near = partial(number_within, (year - 1) // 100 + 1, 2)
            q = f"In which century did {event} take place?"
            items.append(make_item("history", unit, q, century(year), centuries, near))
        if years[year] == 1:
            close = {taskgen.cap(r["event"]) for r in rows if abs(int(r["year"]) - year) <= 60 and r is not row}
            q = f"Which of these events took place in {year}?"
            pool = [taskgen.cap(r["event"]) for r in rows if int(r["year"]) != year]
            items.append(make_item("history", unit, q, taskgen.cap(event), pool, close.__contains__))
    return items


def team_size_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "In rugby union, how many players does each team have on the pitch at a time?" and, for a number
    used by one sport in the table, "In which of these sports does each team have 18 players in play?"."""
    counts = Counter(r["players"] for r in rows)
    items = []
    for row in rows:
        n, unit = row["players"], f"team_size|{row['sport']}"
        q = f"In {row['sport']}, how many players does each team have {row['place']} at a time?"
        pool = [r["players"] for r in rows]
        items.append(make_item("sports", unit, q, n, pool, partial(number_within, int(n), 4)))
        if counts[n] == 1:
            q = f"In which of these sports does each team have {n} players in play at a time?"
            pool = [r["sport"] for r in rows if r["players"] != n]
            items.append(make_item("sports", unit, q, row["sport"], pool))
    return items


def olympic_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "Which city hosted the 1908 Summer Olympics?", "In which country were they held?" and "In which
    year did Stockholm first host the Summer Olympics?" (wrong choices from the same season)."""
    items = []
    for row in rows:
        season, year, city = row["season"], row["year"], row["city"]
        peers = [r for r in rows if r["season"] == season]
        games, unit = f"{year} {season} Olympics", f"olympics|{year} {season}"
        items.append(make_item("sports", unit, f"Which city hosted the {games}?", city, [r["city"] for r in peers]))
        if row["country"]:
            q = f"In which country were the {games} held?"
            pool = [r["country"] for r in peers if same_country(r["country"]) != same_country(row["country"])]
            items.append(make_item("sports", unit, q, row["country"], pool))
        hosted = [r["year"] for r in peers if r["city"] == city]
        if year == min(hosted):
            q = f"In which year did {city} first host the {season} Olympics?"
            pool = [r["year"] for r in peers if r["year"] not in hosted]
            items.append(make_item("sports", unit, q, year, pool, partial(number_within, int(year), 24)))
    return items


def world_cup_items(rows: list[dict[str, str]], articles: dict[str, str]) -> list[Item]:
    """ "Which country won / hosted the 1966 FIFA World Cup?" and "In which year did Spain first win /
    host the FIFA World Cup?" (not for countries known under two names, such as West Germany)."""
    items = []
    for role, column in (("won", "winner"), ("hosted", "host")):
        for row in (r for r in rows if r[column]):
            country, year, unit = row[column], row["year"], f"world_cup|{row['year']}"
            pool = [r[column] for r in rows if r[column] and same_country(r[column]) != same_country(country)]
            items.append(make_item("sports", unit, f"Which country {role} the {year} FIFA World Cup?", country, pool))
            times = [r["year"] for r in rows if same_country(r[column]) == same_country(country)]
            if year != min(times) or same_country(country) in SAME_COUNTRY.values():
                continue
            verb = "win" if role == "won" else "host"
            q = f"In which year did {country_phrase(country, articles)} first {verb} the FIFA World Cup?"
            pool = [r["year"] for r in rows if r["year"] not in times]
            items.append(make_item("sports", unit, q, year, pool, partial(number_within, int(year), 24)))
    return items


# ---------------------------------------------------------------- building


def validate(tables: dict[str, list[dict[str, str]]], articles: dict[str, str]) -> None:
    """Fail on a repeated key, an unexpected category or a country the world_facts table lacks."""
    keys = {
        "subdivisions": "capital",
        "planets": "planet",
        "moons": "moon",
        "discoveries": "achievement",
        "inventions": "invention",
        "paintings": "painting",
        "painters": "painter",
        "music": "work",
        "composers": "composer",
        "rivers": "river",
        "river_cities": "city",
        "mountains": "mountain",
        "organs": "organ",
        "bones": "bone",
        "si_units": "unit",
        "si_prefixes": "prefix",
        "events": "event",
        "team_sports": "sport",
    }
    for name, column in keys.items():
        taskgen.require_unique(tables[name], column, name)
    for name, column in (("si_units", "symbol"), ("si_units", "quantity"), ("si_prefixes", "symbol")):
        taskgen.require_unique(tables[name], column, name)
    taskgen.require_allowed(tables["rivers"], "continent", wf.CONTINENTS, "rivers")
    taskgen.require_allowed(tables["mountains"], "continent", CONTINENTS, "mountains")
    taskgen.require_allowed(tables["subdivisions"], "country", SUBDIVISION_KIND, "subdivisions")
    taskgen.require_allowed(tables["river_cities"], "river", {r["river"] for r in tables["rivers"]}, "river_cities")
    taskgen.require_allowed(tables["paintings"], "painter", {r["painter"] for r in tables["painters"]}, "paintings")
    taskgen.require_allowed(tables["music"], "composer", {r["composer"] for r in tables["composers"]}, "music")
    highest = [{"country": c} for r in tables["mountains"] for c in listed(r["highest_in"])]
    taskgen.require_unique(highest, "country", "mountains (highest_in)")
    taskgen.require_allowed(highest, "country", articles, "mountains (highest_in)")


def new_items(articles: dict[str, str]) -> list[Item]:
    """Questions from the general_qa tables."""
    names = (
        "subdivisions planets moons discoveries inventions paintings painters music composers rivers "
        "river_cities mountains organs bones si_units si_prefixes events team_sports olympics world_cups"
    )
    t = {name: table(name) for name in names.split()}
    validate(t, articles)
    return [
        *subdivision_items(t["subdivisions"]),
        *planet_items(t["planets"]),
        *moon_items(t["moons"], t["planets"]),
        *discovery_items(t["discoveries"]),
        *invention_items(t["inventions"]),
        *painting_items(t["paintings"]),
        *nationality_items(t["painters"], "painter", "painter", "art"),
        *music_items(t["music"]),
        *nationality_items(t["composers"], "composer", "composer", "music"),
        *river_items(t["rivers"], t["river_cities"]),
        *range_items(t["mountains"]),
        *mountain_place_items(t["mountains"]),
        *highest_mountain_items(t["mountains"], articles),
        *organ_items(t["organs"]),
        *bone_items(t["bones"]),
        *si_unit_items(t["si_units"]),
        *prefix_items(t["si_prefixes"]),
        *event_items(t["events"]),
        *team_size_items(t["team_sports"]),
        *olympic_items(t["olympics"]),
        *world_cup_items(t["world_cups"], articles),
    ]


# ---------------------------------------------------------------- extra checks and output


def giveaways(items: Iterable[Item]) -> list[str]:
    """Questions whose right answer appears in them as a whole word."""
    found = []
    for item in items:
        if re.search(rf"(?<!\w){re.escape(item.answer)}(?!\w)", item.question, flags=re.IGNORECASE):
            found.append(f"answer given away: {item.question} -> {item.answer}")
    return found


def read_questions(path: Path) -> set[str]:
    """The question strings of a JSONL split."""
    with open(path, encoding="utf-8") as fh:
        return {json.loads(line)["question"] for line in fh if line.strip()}


def cross_task(train: Records, evals: Records) -> tuple[dict[str, int], list[str]]:
    """Compare with the world_facts files: its facts must keep their split here. Returns counts for the
    card and the problems found."""
    wf_train, wf_eval = read_questions(wf.TASK_DIR / "train.jsonl"), read_questions(wf.TASK_DIR / "eval.jsonl")
    ours_train, ours_eval = taskgen.questions(train), taskgen.questions(evals)
    counts = {
        "wf_train_in_train": len(wf_train & ours_train),
        "wf_eval_in_eval": len(wf_eval & ours_eval),
        "wf_train": len(wf_train),
        "wf_eval": len(wf_eval),
    }
    problems = [f"world_facts train question in general_qa eval: {q}" for q in sorted(wf_train & ours_eval)]
    problems += [f"world_facts eval question in general_qa train: {q}" for q in sorted(wf_eval & ours_train)]
    if counts["wf_train_in_train"] != len(wf_train) or counts["wf_eval_in_eval"] != len(wf_eval):
        problems.append("some world_facts questions are missing from general_qa")
    return counts, problems


def card_checks(train: Records, evals: Records, units: dict[str, str], overlap: dict[str, int]) -> list[str]:
    """The card's leakage_check lines, with the numbers they rest on."""
    train_q, eval_q = taskgen.questions(train), taskgen.questions(evals)
    train_u, eval_u = {units[q] for q in train_q}, {units[q] for q in eval_q}
    return [
        f"no eval question string appears in train (0 of {len(evals)} eval questions)",
        "no (entity, relation) pair is in both splits, under any question template "
        f"({len(train_u)} train pairs, {len(eval_u)} eval pairs, {len(train_u & eval_u)} shared)",
        f"no question string repeats within a split ({len(train_q)} distinct train questions, "
        f"{len(eval_q)} distinct eval questions)",
        f"every example has {N_CHOICES} distinct choices and a valid 0-based answer index "
        f"({len(train) + len(evals)} examples)",
        "the right answer's position is balanced over A-D within each split and topic "
        f"(train {taskgen.positions_text(train)}; eval {taskgen.positions_text(evals)})",
        "world_facts facts keep their world_facts split: "
        f"{overlap['wf_train_in_train']} of {overlap['wf_train']} world_facts train questions are in train, "
        f"{overlap['wf_eval_in_eval']} of {overlap['wf_eval']} world_facts eval questions are in eval, 0 cross over",
        "no right answer appears as a word in its own question (questions from the general_qa tables)",
    ]


def main() -> int:
    articles = {r["country"]: wf.the(r) for r in wf.read_table("countries")}
    added = new_items(articles)
    items = [*wf.load_items(), *added]
    train, evals, problems = wf.make_splits(items, TOPICS, PREFIX)
    problems += giveaways(added)  # world_facts is checked (and left as it is) by its own script
    overlap: dict[str, int] = {}
    if not problems:
        overlap, problems = cross_task(train, evals)
    if problems:
        return taskgen.print_problems(problems)
    units = {i.question: i.unit for i in items}
    checks = card_checks(train, evals, units, overlap)
    taskgen.write_task(
        TASK_DIR, train, evals, taskgen.card_text("general_qa", DESCRIPTION, SOURCE, train, evals, TOPICS, checks)
    )
    taskgen.report(train, evals, TOPICS, width=20)
    print("checks passed: no leakage, 4 distinct choices, valid answer indices, no giveaways, world_facts split kept")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
