"""How much smaller a regression the routing margin catches than relevance, on the same 30 cases (issue 26).

    PYTHONPATH=. python benchmarks/margin_sensitivity.py [--scales 1,0.9,0.8,0.7,0.6,0.5] [--quant 4bit]

A planted regression of known size: the demo adapter's LoRA update scaled down (every lora_B
multiplied by s, so s = 1 is the adapter and s = 0 the base). For each s, in one process, the
weakened arm answers the shipped suite greedily and is probed; each is compared with s = 1 by the
gate's own test (``stats.paired_block``: bootstrap interval and exact sign test, both at 5 %) on
relevance, and on the routing margin. Prints, per s, both paired differences and whether each is a
significant drop: the smallest weakening each signal catches is the answer.
"""

from __future__ import annotations

import argparse
import sys

from evals.adapters import find_latest_adapter
from evals.backends.base import Arm, Prompt
from evals.backends.hf import HFBackend
from evals.records import BASE_ARM, GenerationSettings
from evals.scoring import score_arm
from evals.stats import paired_block
from evals.suite import load_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,0.9,0.8,0.7,0.6,0.5")
    parser.add_argument("--quant", default="4bit", choices=("4bit", "8bit", "none"))
    parser.add_argument("--adapter", default=None, help="adapter folder (default: the newest output/*/final)")
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    if scales[0] != 1.0:
        scales.insert(0, 1.0)

    suite = load_suite(None)
    cases = list(suite.cases)
    adapter = args.adapter or str(find_latest_adapter("output"))
    arm = Arm("demo", adapter)
    backend = HFBackend("embedded", args.quant, False, (Arm(BASE_ARM), arm))
    model = backend.load([arm])
    import torch

    lora_b = [(p, p.detach().clone()) for name, p in model.named_parameters() if "lora_B" in name]
    prompts = [Prompt(suite.system_prompt_for("system-text"), c.prompt) for c in cases]
    settings = GenerationSettings()
    rows = {}
    for scale in scales:
        with torch.no_grad():
            for param, original in lora_b:
                param.copy_(original * scale)
        answers = backend.generate({arm: prompts}, settings)[arm]
        relevance = [score_arm(a.text, c, suite).relevance for a, c in zip(answers, cases, strict=True)]
        margins = [p.routing_margin for p in backend.probe(arm, cases, suite, "system-text")]
        rows[scale] = (relevance, margins)
        print(f"scale {scale:g}: relevance {sum(relevance) / len(relevance):.3f}", file=sys.stderr, flush=True)

    full_relevance, full_margins = rows[1.0]
    print(f"{len(cases)} cases, {args.quant}, embedded SmolLM2 + {adapter}; each scale against scale 1 (the adapter)")
    print(f"{'scale':>5}  {'relevance':>9}  {'relevance diff [95% CI], p':<34} {'margin':>7}  margin diff [95% CI], p")
    for scale, (relevance, margins) in rows.items():
        if scale == 1.0:
            print(f"{1:>5}  {sum(relevance) / len(relevance):9.3f}  {'':<34} {sum(margins) / len(margins):+7.2f}")
            continue
        rel = paired_block([r - f for r, f in zip(relevance, full_relevance, strict=True)])
        mar = paired_block([m - f for m, f in zip(margins, full_margins, strict=True)])

        def cell(b, digits: int) -> str:  # type: ignore[no-untyped-def]
            caught = "caught" if b.significant and b.mean_diff < 0 else "missed"
            return f"{b.mean_diff:+.{digits}f} [{b.ci_low:+.{digits}f}, {b.ci_high:+.{digits}f}], p={b.sign_test_p:.2g} {caught}"

        print(
            f"{scale:>5g}  {sum(relevance) / len(relevance):9.3f}  {cell(rel, 3):<34} "
            f"{sum(margins) / len(margins):+7.2f}  {cell(mar, 2)}"
        )


if __name__ == "__main__":
    main()
