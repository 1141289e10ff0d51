"""Pick the largest candidate: the rule of thumb that damoc has to beat."""

from __future__ import annotations

from damoc.artifacts import RunLayout, read_json
from damoc.errors import DamocError
from damoc.registry import NoParams, registry


@registry("baseline").register("model_size")
class ModelSize:
    """Rank candidates by parameter count (bigger first), the "scaling law" prior (Kaplan et al. 2020)."""

    Params = NoParams

    def __init__(self, params: NoParams) -> None:
        self.params = params

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]:
        """Parameters of each unpruned candidate, from its ``layers.json``."""
        out = {}
        for name in names:
            path = layout.proxy_dir(name) / "layers.json"
            if not path.is_file():
                raise DamocError(f"model_size baseline: {path} is missing; run the model stage first")
            out[name] = float(read_json(path)["params_before"])
        return out
