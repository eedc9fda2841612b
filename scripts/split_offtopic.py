"""Split ../shared/datasets/clinc_oos_train_val.yml (CLINC150 oos_train + oos_val, CC BY 3.0) deterministically:
every 4th utterance (file order, 0-based index % 4 == 3) is held out in tests/nlu/offtopic_heldout.yml, never
trained on; the other ~150 go to the CLINC block of data/nlu/out_of_scope.yml. Prints both lists as YAML lines.

    .venv/bin/python scripts/split_offtopic.py [path]
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "datasets" / "clinc_oos_train_val.yml"


def split(path: Path = SOURCE) -> tuple[list[str], list[str]]:
    data = yaml.safe_load(path.read_text())
    texts = [line[2:].strip() for line in data["nlu"][0]["examples"].splitlines() if line.startswith("- ")]
    train = [t for i, t in enumerate(texts) if i % 4 != 3]
    held = [t for i, t in enumerate(texts) if i % 4 == 3]
    return train, held


if __name__ == "__main__":
    train, held = split(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
    print(f"# train {len(train)}")
    print("\n".join(f"      - {t}" for t in train))
    print(f"# held out {len(held)}")
    print("\n".join(f"      - {t}" for t in held))
