"""Forced-choice routing probe: how likely each tool is as the start of the answer, teacher-forced.

Generation says which tool an arm picked; the probe says by how much. For each case the prompt
is rendered exactly as generation renders it (``build_prompt``) and every candidate start of the
answer is scored: log P(candidate tokens | prompt), summed over the candidate's tokens. The
candidate is the bare tool id for the system-text format (``volume_up``) and the opening of a
call as the chat template renders it for the native-tools format (``<tool_call>\\n{"name":
"volume_up"``).

The sum, not a per-token mean, is the forced choice: it is the probability that the answer
starts with that candidate, so candidates compare as alternatives and the margin between two is
a log-odds in nats. A per-token mean would favour long ids whose later tokens are near-certain
once the first is chosen (``brightness_down`` after ``brightness``) and would no longer be a
probability.

"No call" (cases where nothing should run) is the probability mass of the first answer token
not being the first token of any tool candidate: 1 - sum of those first tokens' probabilities.
It needs no list of typical text openings, and it is the exact complement of "the answer starts
like some call" (for native tools, 1 - P(``<tool_call>``)).

Cost: the rendered system prompt, shared by every case, is computed once per arm; each case then
extends a copy of its key/value cache by its own tokens, and all its candidates are scored in
one batched forward pass over that cache repeated per candidate (``batch_repeat_interleave``).
torch is imported inside the functions, as in the backends.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evals.backends.hf import CACHE_ARGUMENT
from evals.backends.prompting import MIN_SHARED_PREFIX, build_prompt, shared_prefix_length
from evals.errors import JarvisError
from evals.records.probe import ProbeCase, choose
from evals.records.suite import NATIVE_TOOLS, SYSTEM_TEXT, Case, Suite

# log P(no call) when the tools' first tokens hold all the mass (log 0): a finite floor so records stay JSON.
LOGP_FLOOR = -100.0
# The name the native-tools opening is rendered with, then replaced by each tool id.
_SENTINEL = "JARVIS_PROBE_TOOL"


@dataclass(frozen=True)
class Candidate:
    """One candidate start of the answer: a tool id and the text scored for it."""

    name: str
    text: str


@dataclass(frozen=True)
class Scores:
    """One prompt's candidate log-probabilities (in the candidates' order) and its log P(no call)."""

    logprobs: tuple[float, ...]
    no_call: float


def case_prompt(suite: Suite, case: Case, prompt_format: str) -> tuple[str, str, list[dict[str, Any]] | None]:
    """Return (system, user, tools) as the run asks a case in ``prompt_format``."""
    tools = suite.function_schemas() if prompt_format == NATIVE_TOOLS else None
    return suite.system_prompt_for(prompt_format), case.prompt, tools


def render_case(tokenizer: Any, suite: Suite, case: Case, prompt_format: str) -> str:
    """Render a case's prompt exactly as generation does."""
    system, user, tools = case_prompt(suite, case, prompt_format)
    history = tuple((t.role, t.content) for t in case.history)
    return build_prompt(tokenizer, system, user, tools, history)


def candidates_for(tokenizer: Any, suite: Suite, prompt_format: str) -> tuple[Candidate, ...]:
    """Every tool of the suite as a candidate start of the answer, in registry order."""
    if prompt_format == SYSTEM_TEXT:
        return tuple(Candidate(t.id, t.id) for t in suite.tools)
    if prompt_format != NATIVE_TOOLS:
        raise JarvisError(f"unknown prompt format '{prompt_format}': use {SYSTEM_TEXT} or {NATIVE_TOOLS}")
    opening = call_opening(tokenizer, suite.function_schemas())
    return tuple(Candidate(t.id, opening.replace(_SENTINEL, t.id)) for t in suite.tools)


def call_opening(tokenizer: Any, tools: list[dict[str, Any]]) -> str:
    """Return the start of an answer that calls a tool, as the chat template renders it, up to the name.

    The template renders a conversation ending with an assistant call of ``_SENTINEL``; what
    follows the generation prompt, cut after the name (and its closing quote), is the opening.
    """
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    call = {"type": "function", "function": {"name": _SENTINEL, "arguments": {}}}
    prompt = build_prompt(tokenizer, "s", "u", tools)
    try:
        full = tokenizer.apply_chat_template(
            [*messages, {"role": "assistant", "content": "", "tool_calls": [call]}],
            tokenize=False,
            enable_thinking=False,
            tools=tools,
        )
    except Exception as exc:  # a template's own error (jinja raise_exception) on a message it refuses
        raise JarvisError(f"the chat template cannot render a tool call ({exc}); probe with system-text") from None
    at = full.find(_SENTINEL)
    if not full.startswith(prompt) or at < 0:
        raise JarvisError("the chat template renders no tool call after the prompt; probe with system-text")
    end = at + len(_SENTINEL)
    end += full[end : end + 1] == '"'  # the closing quote: "volume_up" is no prefix of "volume_up_fast"
    return full[len(prompt) : end]


def score_prompts(model: Any, tokenizer: Any, texts: Sequence[str], candidates: Sequence[Candidate]) -> list[Scores]:
    """Score every candidate as the start of the answer to every rendered prompt, on the model as it is set.

    The rows' common prefix (the system prompt) is prefilled once; each row continues a copy of
    its cache, then its candidates run as one batch over that cache, each fed all but its last
    token (the last prompt position already predicts the first).
    """
    import torch

    cand_ids = [tokenizer(c.text, add_special_tokens=False)["input_ids"] for c in candidates]
    if not cand_ids or any(not ids for ids in cand_ids):
        raise JarvisError("every probe candidate needs at least one token")
    firsts = sorted({ids[0] for ids in cand_ids})
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    shared = shared_prefix_length(rows) if len(rows) > 1 else 0
    shared = shared if shared >= MIN_SHARED_PREFIX else 0
    device = next(model.parameters()).device
    out: list[Scores] = []
    with torch.inference_mode():
        prefix_cache = None
        if shared:
            prefix = torch.tensor([rows[0][:shared]], device=device)
            prefix_cache = _cache_of(model(input_ids=prefix, use_cache=True, logits_to_keep=1))
        for row in rows:
            cache = copy.deepcopy(prefix_cache)
            rest = torch.tensor([row[shared:]], device=device)
            step = model(input_ids=rest, use_cache=True, logits_to_keep=1, **{CACHE_ARGUMENT: cache})
            first = torch.log_softmax(step.logits[0, -1].double(), dim=-1)
            out.append(_score_row(model, _cache_of(step), first, cand_ids, firsts, device))
    return out


def _cache_of(output: Any) -> Any:
    found = output.get("cache")
    return found if found is not None else output.get("past_key_values")


def _score_row(model: Any, cache: Any, first: Any, cand_ids: list[list[int]], firsts: list[int], device: Any) -> Scores:
    """Sum each candidate's token log-probs after one prompt whose cache is ``cache``; the no-call mass."""
    import torch

    totals = [float(first[ids[0]]) for ids in cand_ids]
    longer = [i for i, ids in enumerate(cand_ids) if len(ids) > 1]
    if longer:
        width = max(len(cand_ids[i]) - 1 for i in longer)
        # Right padding: a causal model's real positions never see the padding after them.
        feed = [cand_ids[i][:-1] + [cand_ids[i][0]] * (width - len(cand_ids[i]) + 1) for i in longer]
        cache.batch_repeat_interleave(len(longer))
        logits = model(input_ids=torch.tensor(feed, device=device), **{CACHE_ARGUMENT: cache}).logits
        logp = torch.log_softmax(logits.double(), dim=-1)
        for row, i in enumerate(longer):
            targets = torch.tensor(cand_ids[i][1:], device=device)
            totals[i] += float(logp[row, : len(targets)].gather(-1, targets[:, None]).sum())
    # log(1 - P(first token starts a call)), in float64 so a near-certain call still reads as a number.
    call_mass = float(torch.logsumexp(first[firsts], dim=0))
    no_call = math.log(-math.expm1(call_mass)) if call_mass < 0 else LOGP_FLOOR
    return Scores(logprobs=tuple(totals), no_call=max(no_call, LOGP_FLOOR))


def probe_cases(
    model: Any, tokenizer: Any, suite: Suite, cases: Sequence[Case], arm: str, prompt_format: str = SYSTEM_TEXT
) -> list[ProbeCase]:
    """Probe ``cases`` on ``model`` as it is set (one arm), returning one record per case."""
    candidates = candidates_for(tokenizer, suite, prompt_format)
    texts = [render_case(tokenizer, suite, c, prompt_format) for c in cases]
    scored = score_prompts(model, tokenizer, texts, candidates)
    return [
        choose(
            case.id,
            arm,
            prompt_format,
            {c.name: lp for c, lp in zip(candidates, s.logprobs, strict=True)},
            case.expected_tools,
            s.no_call,
            case.expects_nothing,
        )
        for case, s in zip(cases, scored, strict=True)
    ]
