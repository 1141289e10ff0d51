"""Build the bundled ``financial_qa`` multiple-choice task from hand-written fact tables and computed problems.

Reads the CSV tables in ``src/damoc/bundled_tasks/financial_qa/tables/`` and writes ``train.jsonl``,
``eval.jsonl`` and ``card.yaml`` next to them. Standard library only; the output is byte-identical
from one run to the next (every random choice comes from a ``random.Random`` seeded with a string).

Two kinds of question:

- Fact questions come from the tables (terms and definitions, abbreviations, financial ratios, ISO 4217
  currency codes, stock exchanges, stock indices, financial-statement items, cash-flow classes). Each
  (entity, relation) pair, e.g. ("JPY", "currency"), yields one or more questions under several
  templates, in both directions where the answer is unique. The split is made on these pairs, so an
  eval pair never appears in train under any template. Wrong choices come from the same table column,
  preferably "near" the answer (same category, same region), and skip values that could also be right
  (terms the table marks as related, countries that share a currency, the same market).
- Computed problems (interest, present and future value, margins, ratios, loan payments, CAGR,
  break-even, dividend yield) are correct by construction: the answer is computed from the stated
  numbers, and any problem whose answer sits on a rounding boundary is rejected. Wrong choices are the
  results of plausible mistakes (simple instead of compound interest, the wrong base, one period too
  many or too few, a neighbouring ratio); only when those collide with each other or with the answer
  after formatting is a nearby value (the answer scaled by 10-50%) used instead. Each problem has a
  "key" input value (e.g. the principal); train and eval draw their keys from disjoint sets.

The position of the right answer is balanced over A-D within each split and topic.

Run it from the repository root: ``python3 scripts/build_financial_qa.py``. It prints counts per topic
and exits non-zero if a check fails (leakage, choice count, distinct choices, answer index, balance).
"""

from __future__ import annotations

import math
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ in scripts/

import taskgen  # noqa: E402
from taskgen import N_CHOICES, Item, Records  # noqa: E402

TASK_DIR = Path(__file__).resolve().parent.parent / "src" / "damoc" / "bundled_tasks" / "financial_qa"
TABLES = TASK_DIR / "tables"
SEED = "damoc-financial-qa-v1"
EVAL_FRACTION = 0.2
COMPUTED_TRAIN, COMPUTED_EVAL = 96, 24
MIN_GAP = 0.01  # computed choices differ from each other by at least 1% of the answer

FACT_TOPICS = (
    "terms",
    "abbreviations",
    "ratios",
    "currency_codes",
    "stock_exchanges",
    "stock_indices",
    "financial_statements",
    "cash_flow_classes",
)
COMPUTED_TOPICS = (
    "simple_interest",
    "compound_interest",
    "future_value",
    "present_value",
    "percentage_change",
    "gross_margin",
    "net_margin",
    "pe_ratio",
    "current_ratio",
    "debt_to_equity",
    "return_on_equity",
    "loan_payment",
    "cagr",
    "break_even",
    "dividend_yield",
)
TOPICS = FACT_TOPICS + COMPUTED_TOPICS

RATIO_CATEGORIES = {
    "liquidity": "Liquidity: the ability to meet short-term obligations",
    "solvency": "Solvency: the ability to meet long-term debts and interest",
    "profitability": "Profitability: how much profit is earned relative to sales, assets or equity",
    "valuation": "Market valuation: how the share price compares with earnings, sales, assets or dividends",
    "efficiency": "Efficiency: how well the company uses its assets and working capital",
}
STATEMENTS = ("balance sheet", "income statement", "cash flow statement", "statement of changes in equity")
BALANCE_SHEET_CLASSES = (
    "current asset",
    "non-current asset",
    "current liability",
    "non-current liability",
    "shareholders' equity",
)
CASH_FLOW_SECTIONS = {
    "operating": "Operating activities",
    "investing": "Investing activities",
    "financing": "Financing activities",
    "non-cash": "Not a cash flow: disclosed separately as a non-cash activity",
}
REGIONS = ("Americas", "Europe", "Middle East", "Africa", "Asia", "Oceania")
TERM_CATEGORIES = (
    "markets",
    "investing",
    "funds",
    "bonds",
    "banking",
    "economics",
    "accounting",
    "corporate",
    "derivatives",
    "risk",
    "personal",
    "regulation",
)
# Places in the index table that are not countries: their questions say "market".
TERRITORIES = frozenset({"Hong Kong"})
# Country names that take "the" inside a sentence.
WITH_ARTICLE = frozenset(
    {"United States", "United Kingdom", "Czech Republic", "Netherlands", "Philippines", "United Arab Emirates"}
)
# Adjectives that give a country away when they appear in an exchange or index name.
DEMONYMS = {"Switzerland": "swiss", "Mexico": "mexican", "Netherlands": "dutch"}

DESCRIPTION = (
    "English multiple-choice questions (four choices, one right answer) on basic finance. Fact questions "
    "cover about 200 financial terms and their definitions, common abbreviations (EBITDA, IPO, WACC...), "
    "financial ratios (formula and what each measures), ISO 4217 currency codes, the cities and countries "
    "of major stock exchanges, the markets tracked by stock indices, and where items appear in the "
    "financial statements and the cash flow statement; each answer can be traced to one row of a small "
    "hand-written table. Computed questions (simple and compound interest, present and future value, "
    "percentage change, gross and net margin, P/E, current ratio, debt-to-equity, return on equity, loan "
    "payments, CAGR, break-even units, dividend yield) are correct by construction, with wrong choices "
    "taken from plausible mistakes. The train and eval splits share no (entity, relation) pair and no "
    "computed input value. Not financial advice; for model-selection benchmarking."
)
SOURCE = (
    "Authored by the damoc contributors from standard finance definitions and formulas; the fact tables "
    "are in tables/ and the examples are generated by scripts/build_financial_qa.py (deterministic)."
)


@dataclass(frozen=True)
class Problem:
    """A computed question: the exact answer, the values of plausible mistakes and how to print them."""

    key: str
    question: str
    answer: float
    mistakes: tuple[float, ...]
    fmt: Callable[[float], str]
    places: int  # decimal places of the printed answer, for the rounding-boundary check


# ---------------------------------------------------------------- small helpers


unit_rng = partial(taskgen.seeded_rng, SEED)
read_table = partial(taskgen.read_table, TABLES)


def digest(*parts: str) -> int:
    """A stable integer hash of ``parts``."""
    return int(taskgen.seeded_hash(SEED, *parts), 16)


def variant(key: str, options: tuple[str, ...]) -> str:
    """One of ``options``, chosen by a stable hash of ``key``."""
    return options[digest("variant", key) % len(options)]


def upper_first(text: str) -> str:
    """``text`` with its first letter in upper case (the rest untouched, unlike str.capitalize)."""
    at = next((n for n, ch in enumerate(text) if ch.isalpha()), 0)
    return text[:at] + text[at : at + 1].upper() + text[at + 1 :]


def gives_away(answer: str, text: str) -> bool:
    """Whether ``text`` contains the answer, one of its longer words or their stem (Mexico -> Mexican)."""
    low = text.lower()
    if answer.lower() in low or DEMONYMS.get(answer, "\0") in low:
        return True
    return any(word.lower()[:5] in low for word in answer.replace(",", " ").split() if len(word) >= 5)


# ---------------------------------------------------------------- choosing wrong answers


def pick_distractors(
    answer: str,
    pool: Iterable[str],
    rng: random.Random,
    prefer: Callable[[str], bool] | None = None,
    first: Iterable[str] = (),
) -> tuple[str, ...]:
    """Three distinct wrong choices (case-insensitive): the ``first`` ones, then ``prefer``red ones from
    ``pool``, then the rest, shuffled together."""
    taken = [c for c in first if c.lower() != answer.lower()]
    preferred, rest = taskgen.ranked_candidates(answer, pool, prefer, fold=str.lower, exclude=taken)
    need = N_CHOICES - 1 - len(taken)
    if len(preferred) + len(rest) < need:
        raise ValueError(f"only {len(preferred) + len(rest)} wrong choices for {answer!r}")
    if need <= 0:
        chosen = taken[: N_CHOICES - 1]
    elif len(preferred) >= need:
        chosen = taken + rng.sample(preferred, need)
    else:
        chosen = taken + preferred + rng.sample(rest, need - len(preferred))
    rng.shuffle(chosen)
    return tuple(chosen)


# ---------------------------------------------------------------- terms and abbreviations


def related_pairs(rows: list[dict[str, str]]) -> set[frozenset[str]]:
    """Pairs of terms that must never be offered as wrong choices for each other (both directions)."""
    return {frozenset((r["term"], other)) for r in rows for other in taskgen.split_cell(r["related"])}


def term_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "What does the term X mean?" (choices are definitions) and "Which term means D?" (choices are terms)."""
    related = related_pairs(rows)
    definition = {r["term"]: r["definition"] for r in rows}
    items = []
    for row in rows:
        term, cat = row["term"], row["category"]
        unit = f"terms|{term}"
        others = [t for t in definition if t != term and frozenset((t, term)) not in related]
        same_cat = {upper_first(definition[r["term"]]) for r in rows if r["category"] == cat}
        template = variant(
            unit + "|fwd",
            (
                'What does the term "{}" mean?',
                'Which is the best definition of "{}"?',
                'In finance, what is meant by "{}"?',
            ),
        )
        q = template.format(term)
        pool = [upper_first(definition[t]) for t in others]
        items.append(
            Item(
                "terms",
                unit,
                q,
                upper_first(row["definition"]),
                pick_distractors(upper_first(row["definition"]), pool, unit_rng(q), same_cat.__contains__),
            )
        )
        template = variant(
            unit + "|rev", ("Which term means {}?", "What is the term for {}?", "Which financial term describes {}?")
        )
        q = template.format(row["definition"])
        same_cat_terms = {upper_first(r["term"]) for r in rows if r["category"] == cat}
        pool = [upper_first(t) for t in others]
        items.append(
            Item(
                "terms",
                unit,
                q,
                upper_first(term),
                pick_distractors(upper_first(term), pool, unit_rng(q), same_cat_terms.__contains__),
            )
        )
    return items


def abbreviation_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "What does ROE stand for?" (choices: the expansion, two hand-written decoys, another expansion)
    and "Which abbreviation stands for return on equity?"."""
    items = []
    for row in rows:
        abbr, expansion = row["abbreviation"], upper_first(row["expansion"])
        unit = f"abbreviations|{abbr}"
        q = variant(
            unit + "|fwd", ("What does the abbreviation {} stand for?", "In finance, what does {} stand for?")
        ).format(abbr)
        decoys = [upper_first(d) for d in taskgen.split_cell(row["decoys"])]
        pool = [upper_first(r["expansion"]) for r in rows]
        same_initial = {e for e in pool if e[0].lower() == abbr[0].lower()}
        items.append(
            Item(
                "abbreviations",
                unit,
                q,
                expansion,
                pick_distractors(expansion, pool, unit_rng(q), same_initial.__contains__, decoys),
            )
        )
        q = variant(
            unit + "|rev", ('What is the usual abbreviation for "{}"?', 'Which abbreviation stands for "{}"?')
        ).format(row["expansion"])
        pool = [r["abbreviation"] for r in rows]
        same_letter = {a for a in pool if a[0] == abbr[0]}
        items.append(
            Item(
                "abbreviations",
                unit,
                q,
                abbr,
                pick_distractors(abbr, pool, unit_rng(q), same_letter.__contains__),
            )
        )
    return items


# ---------------------------------------------------------------- ratios


def formula(row: dict[str, str]) -> str:
    """The ratio's formula as text, e.g. "current assets ÷ current liabilities"."""
    return f"{row['numerator']} ÷ {row['denominator']}"


def inverted(row: dict[str, str]) -> str:
    """The formula upside down: a classic mistake, and never the ratio itself."""
    return f"{row['denominator']} ÷ {row['numerator']}"


def the_ratio(row: dict[str, str]) -> str:
    """The ratio's name as it reads inside a sentence ("the current ratio", "return on equity")."""
    return f"{row['article']} {row['ratio']}" if row["article"] else row["ratio"]


def ratio_items(rows: list[dict[str, str]]) -> list[Item]:
    """Name from formula, formula from name and, where the table gives one, what the ratio measures."""
    items = []
    for row in rows:
        name, cat = row["ratio"], row["category"]
        unit = f"ratios|{name}"
        q = variant(unit + "|name", ("Which ratio is calculated as {}?", "Which financial ratio equals {}?")).format(
            formula(row)
        )
        pool = [upper_first(r["ratio"]) for r in rows]
        near = {upper_first(r["ratio"]) for r in rows if cat and r["category"] == cat}
        items.append(
            Item(
                "ratios",
                unit,
                q,
                upper_first(name),
                pick_distractors(upper_first(name), pool, unit_rng(q), near.__contains__),
            )
        )
        q = variant(unit + "|formula", ("How is {} calculated?", "Which formula gives {}?")).format(the_ratio(row))
        shares = {
            upper_first(formula(r))
            for r in rows
            if r["numerator"] == row["numerator"] or r["denominator"] == row["denominator"]
        }
        pool = [upper_first(formula(r)) for r in rows]
        answer = upper_first(formula(row))
        items.append(
            Item(
                "ratios",
                unit,
                q,
                answer,
                pick_distractors(answer, pool, unit_rng(q), shares.__contains__, [upper_first(inverted(row))]),
            )
        )
        if not cat:
            continue
        q = variant(
            unit + "|measure", ("What does {} mainly measure?", "Which aspect of a company does {} assess?")
        ).format(the_ratio(row))
        answer = RATIO_CATEGORIES[cat]
        items.append(Item("ratios", unit, q, answer, pick_distractors(answer, RATIO_CATEGORIES.values(), unit_rng(q))))
    return items


# ---------------------------------------------------------------- currencies, exchanges, indices


def the(name: str, article: str) -> str:
    """A name as it reads inside a sentence ("the Netherlands", "the New York Stock Exchange")."""
    return f"{article} {name}" if article else name


def last_word(text: str) -> str:
    """The last word of a currency name ("dollar", "peso", "krone"), used to find look-alikes."""
    return text.split()[-1].strip("()")


def currency_items(rows: list[dict[str, str]]) -> list[Item]:
    """Country -> code, code -> country (codes used by one country), code -> name and name -> code.
    All questions about one code form one split unit."""
    users = Counter(r["code"] for r in rows)
    codes = sorted({r["code"] for r in rows})
    name_of = {r["code"]: r["currency"] for r in rows}
    region_codes = {reg: {r["code"] for r in rows if r["region"] == reg} for reg in REGIONS}
    items = []
    for row in rows:
        code, country, region = row["code"], row["country"], row["region"]
        unit = f"currency_codes|{code}"
        place = the(country, row["article"])
        q = variant(
            f"{unit}|{country}|fwd",
            (
                "What is the ISO 4217 code of the official currency of {}?",
                "Which ISO 4217 code denotes the official currency of {}?",
            ),
        ).format(place)
        items.append(
            Item(
                "currency_codes",
                unit,
                q,
                code,
                pick_distractors(code, codes, unit_rng(q), region_codes[region].__contains__),
            )
        )
        if users[code] == 1:
            q = variant(
                unit + "|country",
                (
                    "Which country's official currency has the ISO 4217 code {}?",
                    "The ISO 4217 currency code {} belongs to which country?",
                ),
            ).format(code)
            pool = [r["country"] for r in rows if r["code"] != code]
            near = {r["country"] for r in rows if r["region"] == region}
            items.append(
                Item(
                    "currency_codes", unit, q, country, pick_distractors(country, pool, unit_rng(q), near.__contains__)
                )
            )
    for code in codes:
        unit = f"currency_codes|{code}"
        name = name_of[code]
        region = next(r["region"] for r in rows if r["code"] == code)
        q = variant(
            unit + "|name",
            ("Which currency has the ISO 4217 code {}?", "What is the currency with the ISO 4217 code {}?"),
        ).format(code)
        pool = [upper_first(n) for n in name_of.values()]
        alike = {
            upper_first(name_of[c])
            for c in codes
            if last_word(name_of[c]) == last_word(name) or c in region_codes[region]
        }
        items.append(
            Item(
                "currency_codes",
                unit,
                q,
                upper_first(name),
                pick_distractors(upper_first(name), pool, unit_rng(q), alike.__contains__),
            )
        )
        q = f"What is the ISO 4217 code of the {name}?"
        alike_codes = {c for c in codes if last_word(name_of[c]) == last_word(name)}
        items.append(
            Item("currency_codes", unit, q, code, pick_distractors(code, codes, unit_rng(q), alike_codes.__contains__))
        )
    return items


def exchange_items(rows: list[dict[str, str]]) -> list[Item]:
    """Exchange -> city, exchange -> country and, for a city with one exchange in the table, city -> exchange.
    A question is skipped when the exchange's name gives its answer away."""
    city_count = Counter(r["city"] for r in rows)
    items = []
    for row in rows:
        name, city, country, region = row["exchange"], row["city"], row["country"], row["region"]
        unit = f"stock_exchanges|{name}"
        place = the(name, row["article"])
        near = {r["city"] for r in rows if r["region"] == region}
        if city and not gives_away(city, name):
            q = variant(unit + "|city", ("In which city is {} headquartered?", "Which city is home to {}?")).format(
                place
            )
            items.append(
                Item(
                    "stock_exchanges",
                    unit,
                    q,
                    city,
                    pick_distractors(city, [r["city"] for r in rows], unit_rng(q), near.__contains__),
                )
            )
        if country and not gives_away(country, name):
            q = variant(unit + "|country", ("In which country is {} based?", "{} operates in which country?")).format(
                place
            )
            q = upper_first(q)
            pool = [r["country"] for r in rows]
            near_countries = {r["country"] for r in rows if r["region"] == region}
            items.append(
                Item(
                    "stock_exchanges",
                    unit,
                    q,
                    country,
                    pick_distractors(country, pool, unit_rng(q), near_countries.__contains__),
                )
            )
        if city_count[city] == 1 and not gives_away(city, name):
            q = f"Which stock exchange is headquartered in {city}?"
            pool = [r["exchange"] for r in rows if r["city"] != city]
            near_names = {r["exchange"] for r in rows if r["region"] == region}
            items.append(
                Item(
                    "stock_exchanges", unit, q, name, pick_distractors(name, pool, unit_rng(q), near_names.__contains__)
                )
            )
    return items


def index_items(rows: list[dict[str, str]]) -> list[Item]:
    """Index -> market and, for a market with one index in the table, market -> index. Markets named in
    ``not_distractors`` (Hong Kong and mainland China) are never offered for each other."""
    per_market = Counter(r["market"] for r in rows)
    markets = sorted({r["market"] for r in rows})
    items = []
    for row in rows:
        name, market, region = row["index"], row["market"], row["region"]
        unit = f"stock_indices|{name}"
        banned = set(taskgen.split_cell(row["not_distractors"]))
        pool = [m for m in markets if m not in banned]
        near = {r["market"] for r in rows if r["region"] == region}
        if market in TERRITORIES:
            q = f"Which market does the {name} track?"
        else:
            q = variant(
                unit + "|fwd",
                ("Which country's stock market does the {} track?", "The {} is a stock market index of which country?"),
            ).format(name)
        if not gives_away(market, name):
            items.append(
                Item("stock_indices", unit, q, market, pick_distractors(market, pool, unit_rng(q), near.__contains__))
            )
        if per_market[market] == 1:
            q = f"Which stock market index tracks the market of {the(market, 'the' if market in WITH_ARTICLE else '')}?"
            pool = [
                r["index"]
                for r in rows
                if r["market"] != market
                and r["market"] not in banned
                and market not in taskgen.split_cell(r["not_distractors"])
            ]
            near_names = {r["index"] for r in rows if r["region"] == region}
            items.append(
                Item("stock_indices", unit, q, name, pick_distractors(name, pool, unit_rng(q), near_names.__contains__))
            )
    return items


# ---------------------------------------------------------------- financial statements


def statement_items(rows: list[dict[str, str]]) -> list[Item]:
    """Which statement reports an item (items found on only one of the four statements) and, for
    balance-sheet items, their class (current/non-current asset or liability, or equity)."""
    items = []
    for row in rows:
        item = row["item"]
        unit = f"financial_statements|{item}"
        if row["statement"]:
            q = variant(
                unit + "|stmt",
                ("Which financial statement reports {}?", "In which financial statement would you find {}?"),
            ).format(item)
            answer = upper_first(row["statement"])
            items.append(
                Item(
                    "financial_statements",
                    unit,
                    q,
                    answer,
                    pick_distractors(answer, map(upper_first, STATEMENTS), unit_rng(q)),
                )
            )
        if row["balance_sheet_class"]:
            q = variant(
                unit + "|class",
                ("On a balance sheet, what is the classification of {}?", "Which balance sheet category covers {}?"),
            ).format(item)
            answer = upper_first(row["balance_sheet_class"])
            items.append(
                Item(
                    "financial_statements",
                    unit,
                    q,
                    answer,
                    pick_distractors(answer, map(upper_first, BALANCE_SHEET_CLASSES), unit_rng(q)),
                )
            )
    return items


def cash_flow_items(rows: list[dict[str, str]]) -> list[Item]:
    """ "Under US GAAP, how is X classified in the statement of cash flows?" (four fixed choices)."""
    items = []
    for row in rows:
        q = variant(
            row["activity"],
            (
                "Under US GAAP, how is {} classified in the statement of cash flows?",
                "Under US GAAP, where does {} belong in the statement of cash flows?",
            ),
        ).format(row["activity"])
        answer = CASH_FLOW_SECTIONS[row["section"]]
        items.append(
            Item(
                "cash_flow_classes",
                f"cash_flow_classes|{row['activity']}",
                q,
                answer,
                pick_distractors(answer, CASH_FLOW_SECTIONS.values(), unit_rng(q)),
            )
        )
    return items


def load_fact_items() -> list[Item]:
    """Validate the tables and turn them into questions."""
    terms, abbrs, ratios = read_table("terms"), read_table("abbreviations"), read_table("ratios")
    currencies, exchanges, indices = read_table("currencies"), read_table("exchanges"), read_table("indices")
    statements, cash_flows = read_table("statement_items"), read_table("cash_flow_activities")
    for rows, column, table in (
        (terms, "term", "terms"),
        (terms, "definition", "terms"),
        (abbrs, "abbreviation", "abbreviations"),
        (abbrs, "expansion", "abbreviations"),
        (ratios, "ratio", "ratios"),
        (currencies, "country", "currencies"),
        (exchanges, "exchange", "exchanges"),
        (indices, "index", "indices"),
        (statements, "item", "statement_items"),
        (cash_flows, "activity", "cash_flow_activities"),
    ):
        taskgen.require_unique(rows, column, table)
    taskgen.require_unique([{"f": formula(r)} for r in ratios], "f", "ratios (formula)")
    taskgen.require_allowed(terms, "category", TERM_CATEGORIES, "terms")
    taskgen.require_allowed(ratios, "category", RATIO_CATEGORIES, "ratios")
    taskgen.require_allowed(currencies, "region", REGIONS, "currencies")
    taskgen.require_allowed(exchanges, "region", REGIONS, "exchanges")
    taskgen.require_allowed(indices, "region", REGIONS, "indices")
    taskgen.require_allowed(statements, "statement", STATEMENTS, "statement_items")
    taskgen.require_allowed(statements, "balance_sheet_class", BALANCE_SHEET_CLASSES, "statement_items")
    taskgen.require_allowed(cash_flows, "section", CASH_FLOW_SECTIONS, "cash_flow_activities")
    check_terms(terms)
    codes_by_name = Counter((r["currency"], r["code"]) for r in currencies)
    if len({n for n, _ in codes_by_name}) != len({c for _, c in codes_by_name}):
        sys.exit("currencies.csv: a currency name maps to several codes or a code to several names")
    return [
        *term_items(terms),
        *abbreviation_items(abbrs),
        *ratio_items(ratios),
        *currency_items(currencies),
        *exchange_items(exchanges),
        *index_items(indices),
        *statement_items(statements),
        *cash_flow_items(cash_flows),
    ]


def check_terms(rows: list[dict[str, str]]) -> None:
    """Fail if a definition names its own term or a related term is missing from the table."""
    names = {r["term"] for r in rows}
    for row in rows:
        if row["term"].lower() in row["definition"].lower():
            sys.exit(f"terms.csv: the definition of {row['term']!r} contains the term")
        missing = [t for t in taskgen.split_cell(row["related"]) if t not in names]
        if missing:
            sys.exit(f"terms.csv: {row['term']!r} is related to unknown terms {missing}")


# ---------------------------------------------------------------- computed problems: formatting


def money(x: float) -> str:
    """Dollars and cents: "$1,157.63"."""
    return f"${x:,.2f}"


def dollars(x: float) -> str:
    """Whole dollars: "$1,250,000"."""
    return f"${x:,.0f}"


def millions(x: float) -> str:
    """Millions of dollars with one decimal: "$12.5 million"."""
    return f"${x:,.1f} million"


def pct1(x: float) -> str:
    """A fraction as a percentage with one decimal: 0.125 -> "12.5%"."""
    return f"{x * 100:.1f}%"


def pct2(x: float) -> str:
    """A fraction as a percentage with two decimals: 0.0325 -> "3.25%"."""
    return f"{x * 100:.2f}%"


def times2(x: float) -> str:
    """A ratio with two decimals: "1.85"."""
    return f"{x:.2f}"


def times1(x: float) -> str:
    """A multiple with one decimal: "18.4"."""
    return f"{x:.1f}"


def units(x: float) -> str:
    """A whole number of units: "2,500 units"."""
    return f"{round(x):,} units"


def rate(r: float) -> str:
    """An interest rate given in percent: 4.5 -> "4.5%"."""
    return f"{r:g}%"


def clear_of_rounding(value: float, places: int) -> bool:
    """False when ``value`` lies within 1e-6 of a rounding boundary at ``places`` decimals."""
    scaled = abs(value) * 10**places
    return abs(scaled - math.floor(scaled) - 0.5) > 1e-6


def numeric_choices(problem: Problem, rng: random.Random) -> tuple[str, tuple[str, ...], int] | None:
    """The printed answer, three printed wrong choices and how many of them are fallbacks (not mistakes).
    Mistakes are tried in a shuffled order; a value is skipped when it prints like a choice already
    taken, is not positive, or lies within MIN_GAP of a choice already taken."""
    answer = problem.answer
    if answer <= 0 or not clear_of_rounding(answer * (100 if problem.fmt in (pct1, pct2) else 1), problem.places):
        return None
    mistakes = list(problem.mistakes)
    rng.shuffle(mistakes)
    fallback = [answer * f for f in (0.8, 1.25, 0.9, 1.1, 0.7, 1.4, 0.6, 1.5)]
    rng.shuffle(fallback)
    shown, values, used_fallback = [problem.fmt(answer)], [answer], 0
    for n, value in enumerate(mistakes + fallback):
        text = problem.fmt(value)
        if value <= 0 or text in shown or any(abs(value - v) < MIN_GAP * answer for v in values):
            continue
        if float("".join(ch for ch in text if ch.isdigit() or ch == ".")) == 0:
            continue
        shown.append(text)
        values.append(value)
        used_fallback += n >= len(mistakes)
        if len(shown) == N_CHOICES:
            return shown[0], tuple(shown[1:]), used_fallback
    return None


# ---------------------------------------------------------------- computed problems: makers

COMPANIES = (
    "A retailer",
    "A software company",
    "A manufacturer",
    "A restaurant chain",
    "A clothing brand",
    "A logistics firm",
    "A furniture maker",
    "A pharmacy chain",
)
FREQUENCIES = {1: "annually", 2: "semi-annually", 4: "quarterly", 12: "monthly"}


def uniform(rng: random.Random, lo: float, hi: float) -> float:
    """A uniform draw, rounded to 4 decimals so that every platform prints the same numbers."""
    return round(rng.uniform(lo, hi), 4)


def listing(parts: list[str]) -> str:
    """ "a, b and c"."""
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def simple_interest(rng: random.Random) -> Problem:
    """Interest (or the final balance) on a deposit or loan at simple interest."""
    p, r, t = rng.randrange(500, 20001, 250), rng.choice([x / 2 for x in range(3, 19)]), rng.randint(2, 10)
    i = r / 100
    interest, compound = p * i * t, p * (1 + i) ** t
    form = rng.randrange(3)
    if form == 0:
        q = f"A savings account pays simple interest of {rate(r)} per year. How much interest does a deposit of {money(p)} earn in {t} years?"
    elif form == 1:
        q = f"A {t}-year loan of {money(p)} charges simple interest at {rate(r)} a year. How much interest is paid in total?"
    else:
        q = f"{money(p)} is lent at a simple interest rate of {rate(r)} per year for {t} years. What is the total amount owed at the end, interest included?"
        mistakes = (compound, interest, p * (1 + i * (t - 1)), p * (1 + i * (t + 1)))
        return Problem(str(p), q, p + interest, mistakes, money, 2)
    return Problem(str(p), q, interest, (compound - p, p * i, p * i * (t + 1), p + interest), money, 2)


def compound_interest(rng: random.Random) -> Problem:
    """The balance (or the interest earned) on a lump sum compounded m times a year."""
    p, r, t = rng.randrange(1000, 50001, 500), rng.choice([x / 2 for x in range(4, 21)]), rng.randint(2, 15)
    m = rng.choice(tuple(FREQUENCIES))
    i = r / 100

    def grow(years: int) -> float:
        return p * (1 + i / m) ** (m * years)

    annual = p * (1 + i) ** t
    if rng.random() < 0.5:
        q = f"You invest {money(p)} at {rate(r)} per year, compounded {FREQUENCIES[m]}. What is the balance after {t} years?"
        mistakes = [p * (1 + i * t), grow(t - 1), grow(t + 1), grow(t) - p] + ([annual] if m > 1 else [])
        return Problem(str(p), q, grow(t), tuple(mistakes), money, 2)
    q = f"A deposit of {money(p)} earns {rate(r)} a year, compounded {FREQUENCIES[m]}. How much interest has it earned after {t} years?"
    mistakes = [p * i * t, grow(t), grow(t + 1) - p, grow(t - 1) - p] + ([annual - p] if m > 1 else [])
    return Problem(str(p), q, grow(t) - p, tuple(mistakes), money, 2)


def future_value(rng: random.Random) -> Problem:
    """The future value of equal yearly deposits (an ordinary annuity, or an annuity due)."""
    d, r, n = rng.randrange(500, 10001, 100), rng.choice([x / 2 for x in range(4, 19)]), rng.randint(3, 25)
    i = r / 100

    def ordinary(years: int) -> float:
        return d * ((1 + i) ** years - 1) / i

    if rng.random() < 0.5:
        q = f"You deposit {money(d)} at the end of every year into an account that earns {rate(r)} a year, compounded annually. How much will the account hold at the end of {n} years, just after the last deposit?"
        return Problem(
            str(d), q, ordinary(n), (d * n, ordinary(n) * (1 + i), ordinary(n - 1), ordinary(n + 1)), money, 2
        )
    q = f"You deposit {money(d)} at the start of every year into an account that earns {rate(r)} a year, compounded annually. How much will the account hold at the end of {n} years?"
    due = ordinary(n) * (1 + i)
    return Problem(str(d), q, due, (d * n, ordinary(n), ordinary(n - 1) * (1 + i), ordinary(n + 1) * (1 + i)), money, 2)


def present_value(rng: random.Random) -> Problem:
    """The present value of a single future sum, discounted annually."""
    f, r, n = rng.randrange(1000, 100001, 500), rng.choice([x / 2 for x in range(4, 21)]), rng.randint(2, 20)
    i = r / 100
    if rng.random() < 0.5:
        q = f"How much must you invest today at {rate(r)} a year, compounded annually, to have {money(f)} in {n} years?"
    else:
        q = f"What is the present value of {money(f)} to be received in {n} years, at a discount rate of {rate(r)} per year?"
    mistakes = (f / (1 + i * n), f * (1 - i) ** n, f / (1 + i) ** (n - 1), f / (1 + i) ** (n + 1), f * (1 - i * n))
    return Problem(str(f), q, f / (1 + i) ** n, mistakes, money, 2)


PERCENT_CONTEXTS: tuple[tuple[str, str, str, Callable[[float], str], float, float, float], ...] = (
    # name, subject, its pronoun, how values print, lowest start, highest start, resolution
    ("share", "The price of a share", "it", money, 5, 500, 0.01),
    ("revenue", "A company's annual revenue", "it", millions, 10, 900, 0.1),
    ("house", "The price of a house", "it", dollars, 100_000, 900_000, 1_000),
    ("sales", "A shop's monthly sales", "they", dollars, 10_000, 200_000, 100),
)


def percentage_change(rng: random.Random) -> Problem:
    """The percentage increase or decrease between two values."""
    name, subject, pronoun, fmt, lo, hi, res = rng.choice(PERCENT_CONTEXTS)
    a = round(rng.randrange(round(lo / res), round(hi / res) + 1) * res, 2)
    up = rng.random() < 0.5
    change = uniform(rng, 0.02, 0.6) * (1 if up else -1)
    b = round(round(a * (1 + change) / res) * res, 2)
    diff = abs(b - a)
    verb, noun = ("rose", "increase") if up else ("fell", "decrease")
    q = f"{subject} {verb} from {fmt(a)} to {fmt(b)}. By what percentage did {pronoun} {noun}?"
    mistakes = [diff / b, b / a, a / b] + ([diff / 100] if name in ("share", "revenue") and diff < 100 else [])
    return Problem(f"{name}:{a}", q, diff / a, tuple(mistakes), pct1, 1)


def gross_margin(rng: random.Random) -> Problem:
    """Gross margin from revenue and cost of goods sold, with operating expenses or net income as a lure."""
    rev = rng.randrange(200_000, 5_000_001, 10_000)
    cogs = round(rev * uniform(rng, 0.3, 0.85), -3)
    lure = rng.choice(("opex", "net"))
    other = round(rev * uniform(rng, 0.02, 0.12), -3)
    mistakes = [(rev - cogs) / cogs, cogs / rev]
    parts = [f"revenue of {dollars(rev)}", f"cost of goods sold of {dollars(cogs)}"]
    if lure == "opex":
        parts.append(f"operating expenses of {dollars(other)}")
        mistakes += [(rev - cogs - other) / rev, other / rev]
    else:
        parts.append(f"net income of {dollars(other)}")
        mistakes.append(other / rev)
    q = f"{rng.choice(COMPANIES)} had {listing(parts)}. What was its gross margin?"
    return Problem(str(rev), q, (rev - cogs) / rev, tuple(mistakes), pct1, 1)


def net_margin(rng: random.Random) -> Problem | None:
    """Net profit margin from an income statement in five lines."""
    rev = rng.randrange(1_000_000, 50_000_001, 50_000)
    cogs, opex = round(rev * uniform(rng, 0.35, 0.65), -3), round(rev * uniform(rng, 0.1, 0.25), -3)
    interest = round(rev * uniform(rng, 0.005, 0.04), -3)
    pretax = rev - cogs - opex - interest
    if pretax < rev * 0.03:
        return None
    tax = round(pretax * rng.choice((0.21, 0.25, 0.3)), -3)
    net = pretax - tax
    parts = [
        f"revenue of {dollars(rev)}",
        f"cost of goods sold of {dollars(cogs)}",
        f"operating expenses of {dollars(opex)}",
        f"interest expense of {dollars(interest)}",
        f"income tax expense of {dollars(tax)}",
    ]
    q = f"{rng.choice(COMPANIES)} reported {listing(parts)}. What was its net profit margin?"
    mistakes = ((rev - cogs) / rev, (rev - cogs - opex) / rev, pretax / rev)
    return Problem(str(rev), q, net / rev, mistakes, pct1, 1)


def pe_ratio(rng: random.Random) -> Problem | None:
    """The P/E ratio from price and EPS (with the dividend as a lure), or from net income and shares."""
    pe = uniform(rng, 6, 45)
    if rng.random() < 0.5:
        price = rng.randrange(500, 50001) / 100
        eps = round(price / pe, 2)
        div = round(eps * uniform(rng, 0.1, 0.7), 2)
        if eps < 0.1 or div <= 0:
            return None
        q = f"A company's shares trade at {money(price)}. Its earnings per share are {money(eps)} and it pays an annual dividend of {money(div)} per share. What is its price-to-earnings (P/E) ratio?"
        return Problem(
            f"price:{price}",
            q,
            price / eps,
            (price / div, eps / price * 100, price / (eps - div), price / (eps + div)),
            times1,
            1,
        )
    shares = rng.randrange(2_000_000, 200_000_001, 500_000)
    net = round(shares * uniform(rng, 0.2, 8), -3)
    preferred = round(net * uniform(rng, 0.03, 0.15), -3)
    eps = (net - preferred) / shares
    price = round(pe * eps, 2)
    if price < 1 or preferred <= 0:
        return None
    q = (
        f"A company earned net income of {dollars(net)}, paid preferred dividends of {dollars(preferred)} and has "
        f"{shares:,} common shares outstanding. Its share price is {money(price)}. What is its price-to-earnings (P/E) ratio?"
    )
    mistakes = (price / (net / shares), price / ((net + preferred) / shares), eps, eps / price * 100)
    return Problem(f"net:{net}", q, price / eps, mistakes, times1, 1)


def current_ratio(rng: random.Random) -> Problem | None:
    """The current ratio from its parts (quick and cash ratios, and long-term debt, are the lures)."""
    cl = rng.randrange(50_000, 5_000_001, 5_000)
    ca = cl * uniform(rng, 0.6, 3.0)
    cash, ar = round(ca * uniform(rng, 0.1, 0.35), -3), round(ca * uniform(rng, 0.2, 0.4), -3)
    inv = round(ca - cash - ar, -3)
    if min(cash, ar, inv) <= 0:
        return None
    ca = cash + ar + inv
    parts = [
        f"cash of {dollars(cash)}",
        f"accounts receivable of {dollars(ar)}",
        f"inventory of {dollars(inv)}",
        f"current liabilities of {dollars(cl)}",
    ]
    mistakes = [(cash + ar) / cl, cash / cl, cl / ca]
    if rng.random() < 0.5:
        ltd = round(cl * uniform(rng, 0.5, 3), -3)
        parts.append(f"long-term debt of {dollars(ltd)}")
        mistakes.append(ca / (cl + ltd))
    q = f"A company has {listing(parts)}. What is its current ratio?"
    return Problem(str(cl), q, ca / cl, tuple(mistakes), times2, 2)


def debt_to_equity(rng: random.Random) -> Problem:
    """Debt-to-equity (total liabilities / shareholders' equity) from assets and liabilities, or from its parts."""
    if rng.random() < 0.5:
        assets = rng.randrange(100_000, 20_000_001, 10_000)
        liab = round(assets * uniform(rng, 0.2, 0.85), -3)
        equity = assets - liab
        q = f"A company has total assets of {dollars(assets)} and total liabilities of {dollars(liab)}. What is its debt-to-equity ratio, defined as total liabilities divided by shareholders' equity?"
        return Problem(f"assets:{assets}", q, liab / equity, (liab / assets, assets / equity, equity / liab), times2, 2)
    equity = rng.randrange(100_000, 20_000_001, 10_000)
    cur, noncur = round(equity * uniform(rng, 0.1, 0.8), -3), round(equity * uniform(rng, 0.1, 1.5), -3)
    liab = cur + noncur
    q = f"A company reports current liabilities of {dollars(cur)}, non-current liabilities of {dollars(noncur)} and shareholders' equity of {dollars(equity)}. What is its debt-to-equity ratio (total liabilities ÷ shareholders' equity)?"
    return Problem(
        f"equity:{equity}",
        q,
        liab / equity,
        (noncur / equity, cur / equity, liab / (liab + equity), equity / liab),
        times2,
        2,
    )


def return_on_equity(rng: random.Random) -> Problem:
    """Return on equity from a balance sheet (year-end equity) or from opening and closing equity (average)."""
    if rng.random() < 0.5:
        assets = rng.randrange(500_000, 50_000_001, 50_000)
        liab = round(assets * uniform(rng, 0.3, 0.8), -3)
        equity = assets - liab
        net = round(equity * uniform(rng, 0.03, 0.3), -3)
        rev = round(assets * uniform(rng, 0.4, 1.5), -3)
        q = f"A company earned net income of {dollars(net)} on revenue of {dollars(rev)}. At the end of the year it had total assets of {dollars(assets)} and total liabilities of {dollars(liab)}. What is its return on equity, based on year-end shareholders' equity?"
        return Problem(f"assets:{assets}", q, net / equity, (net / assets, net / liab, net / rev), pct1, 1)
    start = rng.randrange(500_000, 30_000_001, 50_000)
    end = round(start * uniform(rng, 0.9, 1.3), -3)
    net = round((start + end) / 2 * uniform(rng, 0.04, 0.3), -3)
    q = f"A company earned net income of {dollars(net)}. Its shareholders' equity was {dollars(start)} at the start of the year and {dollars(end)} at the end. What is its return on equity, based on average shareholders' equity?"
    return Problem(
        f"start:{start}", q, net / ((start + end) / 2), (net / end, net / start, net / (start + end)), pct1, 1
    )


LOANS = (
    # kind, terms in years, lowest and highest principal, step, lowest and highest rate (percent)
    ("car loan", (3, 4, 5, 6, 7), 5_000, 60_000, 500, 3.0, 12.0),
    ("personal loan", (1, 2, 3, 4, 5), 2_000, 40_000, 500, 5.0, 15.0),
    ("mortgage", (15, 20, 25, 30), 100_000, 800_000, 5_000, 2.5, 8.0),
)


def annuity_payment(principal: float, rate_per_period: float, periods: int) -> float:
    """The level payment that repays ``principal`` over ``periods`` at ``rate_per_period``."""
    return principal * rate_per_period / (1 - (1 + rate_per_period) ** -periods)


def loan_payment(rng: random.Random) -> Problem:
    """The monthly payment of an amortizing loan (annuity formula, monthly compounding)."""
    kind, terms, lo, hi, step, r_lo, r_hi = rng.choice(LOANS)
    p, n = rng.randrange(lo, hi + 1, step), rng.choice(terms)
    r = rng.randrange(round(r_lo * 4), round(r_hi * 4) + 1) / 4
    i = r / 100
    q = f"A {n}-year {kind} of {dollars(p)} has an annual interest rate of {rate(r)}, compounded monthly, and is repaid in equal monthly payments. What is the monthly payment?"
    mistakes = [
        p * (1 + i * n) / (12 * n),
        annuity_payment(p, i, n) / 12,
        p / (12 * n),
        annuity_payment(p, i / 12, 12 * (n + 1)),
    ]
    if n > 1:
        mistakes.append(annuity_payment(p, i / 12, 12 * (n - 1)))
    return Problem(f"{kind}:{p}", q, annuity_payment(p, i / 12, 12 * n), tuple(mistakes), money, 2)


def cagr(rng: random.Random) -> Problem | None:
    """Compound annual growth rate between two values n years apart."""
    n, g = rng.randint(2, 15), uniform(rng, 0.02, 0.35)
    if rng.random() < 0.5:
        start = rng.randrange(50, 5001) / 10
        end = round(start * (1 + g) ** n, 1)
        q = f"A company's annual revenue grew from {millions(start)} to {millions(end)} over {n} years. What was its compound annual growth rate (CAGR)?"
        key = f"revenue:{start}"
    else:
        start = rng.randrange(1_000, 100_001, 500)
        end = round(start * (1 + g) ** n)
        q = f"An investment grew from {dollars(start)} to {dollars(end)} over {n} years. What was its compound annual growth rate (CAGR)?"
        key = f"investment:{start}"
    growth = end / start
    if growth > 20:
        return None
    mistakes = [(growth - 1) / n, growth - 1, growth ** (1 / (n + 1)) - 1] + (
        [growth ** (1 / (n - 1)) - 1] if n > 2 else []
    )
    return Problem(key, q, growth ** (1 / n) - 1, tuple(mistakes), pct1, 1)


BUSINESSES = (
    ("A bakery", "cakes", "month"),
    ("A print shop", "posters", "month"),
    ("A furniture workshop", "chairs", "month"),
    ("A candle maker", "candles", "month"),
    ("A bicycle maker", "bicycles", "year"),
    ("A software start-up", "licenses", "year"),
    ("A coffee roaster", "bags of coffee", "month"),
    ("A toy company", "toys", "year"),
)


def break_even(rng: random.Random) -> Problem:
    """Break-even units: fixed costs divided by the contribution margin per unit (a whole number by construction)."""
    who, goods, period = rng.choice(BUSINESSES)
    margin = rng.randrange(2, 161) / 2
    var = rng.randrange(2, 301) / 2
    price = var + margin
    k = rng.randrange(100, 20_001, 10)
    fixed = margin * k
    q = f"{who} sells {goods} for {money(price)} each. The variable cost is {money(var)} per unit and fixed costs are {dollars(fixed)} per {period}. How many units must it sell per {period} to break even?"
    mistakes = (math.ceil(fixed / price), math.ceil(fixed / var), math.ceil(fixed / (price + var)))
    return Problem(f"{fixed:.0f}", q, k, mistakes, units, 0)


def dividend_yield(rng: random.Random) -> Problem | None:
    """Dividend yield from the annual dividend (EPS is a lure) or from a quarterly dividend."""
    price = rng.randrange(1000, 30001) / 100
    target = uniform(rng, 0.005, 0.08)
    if rng.random() < 0.5:
        div = round(price * target, 2)
        eps = round(div / uniform(rng, 0.2, 0.9), 2)
        if div <= 0:
            return None
        q = f"A stock trades at {money(price)} and pays annual dividends of {money(div)} per share. Its earnings per share are {money(eps)}. What is its dividend yield?"
        return Problem(f"annual:{price}", q, div / price, (div / eps, eps / price, div / price / 4), pct2, 2)
    quarterly = round(price * target / 4, 2)
    if quarterly <= 0:
        return None
    q = f"A company pays a quarterly dividend of {money(quarterly)} per share, and its shares trade at {money(price)}. What is its dividend yield?"
    return Problem(
        f"quarterly:{price}",
        q,
        4 * quarterly / price,
        (quarterly / price, 12 * quarterly / price, 2 * quarterly / price),
        pct2,
        2,
    )


MAKERS: dict[str, Callable[[random.Random], Problem | None]] = {
    "simple_interest": simple_interest,
    "compound_interest": compound_interest,
    "future_value": future_value,
    "present_value": present_value,
    "percentage_change": percentage_change,
    "gross_margin": gross_margin,
    "net_margin": net_margin,
    "pe_ratio": pe_ratio,
    "current_ratio": current_ratio,
    "debt_to_equity": debt_to_equity,
    "return_on_equity": return_on_equity,
    "loan_payment": loan_payment,
    "cagr": cagr,
    "break_even": break_even,
    "dividend_yield": dividend_yield,
}


def is_eval_key(topic: str, key: str) -> bool:
    """Whether problems with this key value go to eval (a seeded hash, EVAL_FRACTION of the keys)."""
    return digest("key", topic, key) % 1000 < EVAL_FRACTION * 1000


def computed_items(topic: str, fallbacks: Counter[str]) -> list[Item]:
    """COMPUTED_TRAIN + COMPUTED_EVAL problems of ``topic``; eval problems only use eval keys."""
    rng = unit_rng("computed", topic)
    quota = {"train": COMPUTED_TRAIN, "eval": COMPUTED_EVAL}
    items: list[Item] = []
    seen: set[str] = set()
    for _ in range(200_000):
        if not any(quota.values()):
            return items
        problem = MAKERS[topic](rng)
        if problem is None or problem.question in seen:
            continue
        split = "eval" if is_eval_key(topic, problem.key) else "train"
        if not quota[split]:
            continue
        built = numeric_choices(problem, unit_rng("choices", problem.question))
        if built is None:
            continue
        answer, distractors, used = built
        quota[split] -= 1
        fallbacks[topic] += used
        seen.add(problem.question)
        items.append(Item(topic, f"{topic}|{problem.key}", problem.question, answer, distractors))
    sys.exit(f"{topic}: could not make enough problems (still missing {quota})")


# ---------------------------------------------------------------- splitting


def eval_units(items: list[Item]) -> set[str]:
    """The split units that go to eval. Fact topics: the EVAL_FRACTION of units ranked first by a seeded
    hash (stable when rows are added elsewhere). Computed topics: the units whose key is an eval key."""
    facts = [i for i in items if i.topic not in COMPUTED_TOPICS]
    chosen = taskgen.eval_units(facts, SEED, EVAL_FRACTION, group=lambda i: i.topic)
    computed = [i for i in items if i.topic in COMPUTED_TOPICS]
    chosen.update(i.unit for i in computed if is_eval_key(i.topic, i.unit.split("|", 1)[1]))
    return chosen


# ---------------------------------------------------------------- checks and output


def leakage_summary(train: Records, evals: Records, units: dict[str, str]) -> list[str]:
    """The checks, with numbers, as they appear in the task card."""

    def unit_set(recs: Records, computed: bool) -> set[str]:
        return {units[str(r["question"])] for r in recs if (r["topic"] in COMPUTED_TOPICS) == computed}

    fact_tr, fact_ev = unit_set(train, False), unit_set(evals, False)
    comp_tr, comp_ev = unit_set(train, True), unit_set(evals, True)
    shared_q = len(taskgen.questions(train) & taskgen.questions(evals))
    return [
        f"{shared_q} of {len(evals)} eval question strings appear in train",
        f"fact questions split by (entity, relation): {len(fact_ev)} eval and {len(fact_tr)} train pairs, {len(fact_ev & fact_tr)} shared under any template",
        f"computed problems split by input value (principal, revenue, price...): {len(comp_ev)} eval and {len(comp_tr)} train key values, {len(comp_ev & comp_tr)} shared within a topic",
        "no question string repeats within a split",
        f"every example has {N_CHOICES} distinct choices (case-insensitive) and a valid 0-based answer index",
        "answer positions balanced within each split and topic "
        f"(train {taskgen.positions_text(train)}, eval {taskgen.positions_text(evals)})",
        "computed answers never sit on a rounding boundary; wrong choices differ from the answer and from each other by at least 1% of the answer and in print",
    ]


def main() -> int:
    fallbacks: Counter[str] = Counter()
    items = load_fact_items()
    for topic in COMPUTED_TOPICS:
        items += computed_items(topic, fallbacks)
    twice = sorted(taskgen.repeated(i.question for i in items))
    if twice:
        return taskgen.print_problems(["questions generated twice:", *twice])
    units = {i.question: i.unit for i in items}
    train, evals = taskgen.split_records(items, eval_units(items), seed=SEED, topics=TOPICS, prefix="fin")
    problems = taskgen.split_problems(train, evals, units, fold=str.lower, balance_topics=TOPICS)
    if problems:
        return taskgen.print_problems(problems)
    checks = leakage_summary(train, evals, units)
    taskgen.write_task(
        TASK_DIR, train, evals, taskgen.card_text("financial_qa", DESCRIPTION, SOURCE, train, evals, TOPICS, checks)
    )
    taskgen.report(
        train,
        evals,
        TOPICS,
        width=22,
        extra_title=f"{'fallback':>10}",
        extra=lambda t: f"{fallbacks[t]:>10}" if t in COMPUTED_TOPICS else "",
    )
    print("checks passed:\n  " + "\n  ".join(checks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
