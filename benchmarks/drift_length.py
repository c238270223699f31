"""How many answer tokens drift needs (issue 26): a script, not a timed test.

    PYTHONPATH=. python benchmarks/drift_length.py [--adapter output/<run>/final] [--quant 4bit] [--scales 1,0.6,0.3,0.1]

On the embedded SmolLM2, the base answers the neutral French prompts greedily with 48 new tokens;
the demo adapter, its LoRA update scaled by each s (every lora_B times s), is teacher-forced on
those answers. Prints the mean per-token KL(base || adapter) over the first k tokens of each answer
for k = 16, 24, 32, 48, and how well each k's per-prompt figures agree with k = 48 at s = 1. The gate
compares an adapter's drift with the baseline's as a ratio, so a k that keeps the ratios between
scales measures the same thing for less work (greedy answers are built token by token: the first k
tokens of a 48-token answer are the k-token answer, which the script checks).
"""

from __future__ import annotations

import argparse
import statistics

from evals.adapters import find_latest_adapter
from evals.backends.base import Arm
from evals.backends.hf import HFBackend
from evals.backends.prompting import build_prompt
from evals.drift import answer_logprobs, greedy_answers, load_neutral_set
from evals.records import BASE_ARM

LENGTHS = (16, 24, 32, 48)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", default=None, help="adapter folder (default: the newest output/*/final)")
    parser.add_argument("--quant", default="4bit", choices=("4bit", "8bit", "none"))
    parser.add_argument("--scales", default="1,0.6,0.3,0.1")
    args = parser.parse_args()
    import numpy as np
    import torch

    base, tuned = Arm(BASE_ARM), Arm("demo", args.adapter or str(find_latest_adapter("output")))
    backend = HFBackend("embedded", args.quant, False, [base, tuned])
    model = backend.load([base, tuned])
    tok = backend.tokenizer
    neutral = load_neutral_set()
    texts = [build_prompt(tok, neutral.system_prompt, p.prompt) for p in neutral.prompts]
    rows = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    with backend._as_arm(base) as m:
        answered = greedy_answers(m, tok, texts, max(LENGTHS))
        shorter = greedy_answers(m, tok, texts, LENGTHS[1])
    answers = [ids for ids, _ in answered]
    same = sum(a[: LENGTHS[1]] == s for a, (s, _) in zip(answers, shorter, strict=True))
    print(f"{len(texts)} neutral prompts, {args.quant}; answers of 48 tokens: {sum(len(a) == 48 for a in answers)}")
    print(f"{LENGTHS[1]}-token greedy answers that are the start of the 48-token ones: {same}/{len(texts)}")
    lora_b = [(p, p.detach().clone()) for name, p in model.named_parameters() if "lora_B" in name]
    per_prompt: dict[tuple[float, int], list[float]] = {}
    print(f"{'scale':>5}  " + "  ".join(f"{'KL, k=' + str(k):>9}" for k in LENGTHS))
    for scale in [float(s) for s in args.scales.split(",")]:
        with torch.no_grad():
            for param, original in lora_b:
                param.copy_(original * scale)
        with backend._as_arm(tuned) as m:
            tuned_lp = answer_logprobs(m, rows, answers)
        kls = [(lb.exp() * (lb - lt)).sum(-1).clamp(min=0.0) for (_, lb), lt in zip(answered, tuned_lp, strict=True)]
        for k in LENGTHS:
            per_prompt[(scale, k)] = [float(kl[:k].mean()) for kl in kls]
        print(f"{scale:>5g}  " + "  ".join(f"{statistics.mean(per_prompt[(scale, k)]):9.3f}" for k in LENGTHS))
    top = max(s for s, _ in per_prompt)
    for k in LENGTHS[:-1]:
        r = float(np.corrcoef(per_prompt[(top, k)], per_prompt[(top, LENGTHS[-1])])[0, 1])
        print(f"k={k}: per-prompt correlation with k=48 at scale {top:g}: {r:.3f}")


if __name__ == "__main__":
    main()
