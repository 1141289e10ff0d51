"""Pick the candidate that scores best before any fine-tuning."""

from __future__ import annotations

from damoc.artifacts import RunLayout, read_json
from damoc.errors import DamocError
from damoc.registry import NoParams, registry


@registry("baseline").register("zero_shot")
class ZeroShot:
    """Rank candidates by the full (uncompressed) model's score with no fine-tuning (as in DaMoC's baselines)."""

    Params = NoParams

    def __init__(self, params: NoParams) -> None:
        self.params = params

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]:
        """The rank_by metric of each candidate's zero-shot evaluation (``models/<name>/zero_shot``)."""
        out = {}
        for name in names:
            path = layout.zero_shot_dir(name) / "eval.json"
            if not path.is_file():
                raise DamocError(
                    f"zero_shot baseline: {path} is missing; the pipeline runs it when listed in baselines"
                )
            out[name] = float(read_json(path)["metrics"][rank_by])
        return out
