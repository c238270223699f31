"""Print how the installed packages differ from requirements.lock (run by `make test-latest`).

usage: python scripts/lock_drift.py requirements.lock
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
# The packages whose versions shape answers or scores come first.
WATCHED = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "tokenizers", "safetensors")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(lock: str) -> int:
    pins = {_key(m[1]): m[2] for line in Path(lock).read_text(encoding="utf-8").splitlines() if (m := PIN.match(line))}
    installed = {_key(d.metadata["Name"]): d.version for d in metadata.distributions()}
    moved = {
        name: (pins.get(name, "not locked"), installed[name]) for name in installed if pins.get(name) != installed[name]
    }
    for name in (
        "jarvis-evals",
        "pip",
        "setuptools",
        "wheel",
        "torch",
    ):  # the project, installers, torch (its own line)
        moved.pop(name, None)
    order = sorted(moved, key=lambda n: (n not in WATCHED, n))
    print(f"newest allowed versions vs {lock}: {len(moved)} differ")
    for name in order:
        locked, newest = moved[name]
        print(f"  {name:24} locked {locked:14} newest {newest}")
    if "torch" in installed:
        print(f"  torch is outside the lock (make's TORCH picks the CPU or CUDA build): {installed['torch']}")
    watched = {n: installed.get(n, "absent") for n in WATCHED if n in installed}
    print("answer-shaping packages here: " + ", ".join(f"{n} {v}" for n, v in watched.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "requirements.lock"))
