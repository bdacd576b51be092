from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TRAINING_DATA = "training-data"
MODEL_WEIGHTS = "model-weights"
OTHER = "other"
# nothing decided, and a signal that could have (tags, the object sample) was not collected
UNKNOWN = "unknown"
SENSITIVE = (TRAINING_DATA, MODEL_WEIGHTS)


@dataclass(frozen=True, slots=True)
class Classification:
    label: str
    reasons: tuple[str, ...] = field(default=())

    @property
    def sensitive(self) -> bool:
        return self.label in SENSITIVE

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "reasons": list(self.reasons)}
