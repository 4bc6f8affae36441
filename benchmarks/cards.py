"""The one read-update-write of a checkpoint's ``card_metrics.json`` that the *_card_metrics.py scripts share."""

import json
from pathlib import Path


def update_card_metrics(checkpoint: str | Path, fields: dict) -> dict:
    """Merge ``fields`` into ``checkpoint``/card_metrics.json (keeping what else it holds, e.g. the "training"
    record), write it back and print it."""
    card = Path(checkpoint) / "card_metrics.json"
    kept = json.loads(card.read_text()) if card.is_file() else {}
    kept.update(fields)
    card.write_text(json.dumps(kept, indent=1) + "\n")
    print(json.dumps(kept, indent=1))
    return kept
