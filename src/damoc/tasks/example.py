"""The normalised example every stage reads and writes (a leaf module: no damoc imports)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Example:
    """One normalised example. ``answer`` is a choice index (multiple_choice) or the text (qa)."""

    id: str
    question: str
    answer: int | str
    choices: tuple[str, ...] | None = None
    context: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["choices"] = list(self.choices) if self.choices is not None else None
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Example:
        choices = tuple(d["choices"]) if d.get("choices") is not None else None
        return cls(
            id=str(d["id"]), question=d["question"], answer=d["answer"], choices=choices, context=d.get("context")
        )
