"""Worker for benchmarks/speed.py: where two greedy answers to one prompt part, and how near a tie it was.

    python benchmarks/divergence.py ADAPTER < rows.jsonl

Each input line is {"arm": "base" or "ft", "prompt": the case's request, "ours": our answer,
"theirs": the peer's}. The model is loaded as the run loads it (embedded SmolLM2, NF4, the adapter
for "ft"); each answer is tokenized after the rendered prompt, and at the first token where the two
differ the model is run once (one row, no batch, no prefix cache) on the prompt and the common prefix.
Prints one JSON line per input: the position of that token, both tokens, and the logit gap between
them (ours - theirs). Greedy decoding picks the larger logit, so a gap near zero means the two
tokens nearly tie, and a change in float summation order (another batch shape, another
implementation's padding) can flip the choice; a large gap means the answers part for another reason.

What "near zero" means is measured, not assumed: the same row is run again three ways that only
reorder float sums (behind 7 and behind 31 masked pad tokens, as rows of a left-padded batch; and
from a cache of the shared system prompt, as generation runs it), and ``noise`` is the largest
change of any logit at that position. A gap within it is explained by float order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(adapter: str) -> None:
    import torch

    from evals.adapters import AdapterSpec
    from evals.backends.prompting import build_prompt, prefill, shared_prefix_length
    from evals.backends.sampling import CACHE_ARGUMENT
    from evals.config import EvalConfig
    from evals.run import EvalRun

    rows = [json.loads(line) for line in sys.stdin if line.strip()]
    run = EvalRun.from_config(EvalConfig(adapters=(AdapterSpec("demo", Path(adapter).resolve()),), use_cache=False))
    backend = run.backend
    backend.load(run.arms)
    tok = backend.tokenizer
    cases = {c.prompt: c for c in run.suite.cases}
    # The system prompt's tokens, which every row shares (the run prefills them once per arm).
    rendered = [
        build_prompt(tok, p.system, p.user, p.tool_schemas(), p.history) for p in map(run.prompt, run.suite.cases)
    ]
    shared = shared_prefix_length([tok(t, add_special_tokens=False)["input_ids"] for t in rendered])
    for row in rows:
        prompt = run.prompt(cases[row["prompt"]])
        text = build_prompt(tok, prompt.system, prompt.user, prompt.tool_schemas(), prompt.history)
        context = tok(text, add_special_tokens=False)["input_ids"]
        # An answer is text up to end-of-sequence; the shorter one ended there, so its next token is EOS.
        ours, theirs = (
            [*tok(t, add_special_tokens=False)["input_ids"], tok.eos_token_id] for t in (row["ours"], row["theirs"])
        )
        at = next(
            (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs)) - 1
        )
        arm = run.arms[0] if row["arm"] == "base" else run.arms[1]
        seq = context + ours[:at]
        with backend._as_arm(arm) as model, torch.inference_mode():
            logits = model(input_ids=torch.tensor([seq])).logits[0, -1].float()
            others = [left_padded(model, seq, pad, tok.pad_token_id or 0) for pad in (7, 31)]
            # As generation computes it: the shared system prompt's cache first, then the rest of the row.
            cache = {CACHE_ARGUMENT: prefill(model, seq[:shared])}
            others.append(model(input_ids=torch.tensor([seq[shared:]]), **cache).logits[0, -1])
        best = int(logits.argmax())
        gap = float(logits[ours[at]] - logits[theirs[at]])
        noise = max(float((other.float() - logits).abs().max()) for other in others)
        print(
            json.dumps(
                {
                    "arm": row["arm"],
                    "prompt": row["prompt"],
                    "position": at,
                    "ours": tok.decode([ours[at]]),
                    "theirs": tok.decode([theirs[at]]),
                    "gap": round(gap, 5),
                    "noise": round(noise, 5),
                    "explained": abs(gap) <= noise,
                    "argmax_is_ours": best == ours[at],
                },
                ensure_ascii=False,
            ),
            flush=True,
        )


def left_padded(model, seq: list[int], pad: int, pad_id: int):  # type: ignore[no-untyped-def]
    """The last position's logits of ``seq`` behind ``pad`` masked pad tokens, positions unchanged (a left-padded batch row)."""
    import torch

    return model(
        input_ids=torch.tensor([[pad_id] * pad + seq]),
        attention_mask=torch.tensor([[0] * pad + [1] * len(seq)]),
        position_ids=torch.tensor([[0] * pad + list(range(len(seq)))]),
    ).logits[0, -1]


if __name__ == "__main__":
    main(sys.argv[1])
