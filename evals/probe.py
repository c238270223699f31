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

Cost: the rendered system prompt, shared by every case, is computed once per arm. Then several
cases at a time run one forward pass over its key/value cache: each row holds a case's own
tokens followed by every candidate's tokens laid out as a prefix tree, and a 4D attention mask
lets each tree token see the prompt and its own ancestors only. ``volume_up`` and ``volume_down``
share the computation of ``volume`` and ``_``; no candidate is fed its last token (the position
before it predicts it). On SmolLM2's tokenizer the 20 tools are 33 tree tokens per case.
torch is imported inside the functions, as in the backends.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evals.backends.prompting import MIN_SHARED_PREFIX, build_prompt, prefill, shared_prefix_length
from evals.backends.sampling import CACHE_ARGUMENT
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


@dataclass(frozen=True)
class _Trie:
    """The candidates' tokens as a prefix tree: each token a model must read appears once.

    ``tokens[n]`` is node n's token, ``parents[n]`` its parent node (-1: the prompt's last token)
    and ``depths[n]`` its distance from the prompt (1: a candidate's first token). Each
    candidate's token j (j >= 1) is read off the logits at node ``steps[i][j - 1]``; its last token
    is never fed, so a one-token candidate needs no node at all.
    """

    tokens: tuple[int, ...]
    parents: tuple[int, ...]
    depths: tuple[int, ...]
    steps: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, cand_ids: Sequence[Sequence[int]]) -> _Trie:
        index: dict[tuple[int, ...], int] = {}
        tokens: list[int] = []
        parents: list[int] = []
        steps = []
        for ids in cand_ids:
            path = []
            for j in range(1, len(ids)):
                key = tuple(ids[:j])
                if key not in index:
                    index[key] = len(tokens)
                    tokens.append(ids[j - 1])
                    parents.append(index[key[:-1]] if j > 1 else -1)
                path.append(index[key])
            steps.append(tuple(path))
        depths = [0] * len(tokens)
        for n, parent in enumerate(parents):  # parents come before their children
            depths[n] = 1 + (depths[parent] if parent >= 0 else 0)
        return cls(tuple(tokens), tuple(parents), tuple(depths), tuple(steps))


def score_prompts(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    candidates: Sequence[Candidate],
    batch_size: int = 8,
    window: int | None = None,
) -> list[Scores]:
    """Score every candidate as the start of the answer to every rendered prompt, on the model as it is set.

    The rows' common prefix (the system prompt) is prefilled once. Then ``batch_size`` prompts
    at a time run one forward pass over that cache, each row holding the prompt's own tokens
    followed by the candidates' prefix tree, with an attention mask that lets each tree token
    see the prompt and its own ancestors only (tree attention): every candidate is scored as if
    it alone followed the prompt, and a token shared by several candidates is computed once.

    A prompt that leaves no room for the candidates in the model's context (``window`` tokens,
    by default the config's ``max_position_embeddings``) keeps its end, as generation truncates it
    (the request and the assistant turn), and nothing is shared then.
    """
    import torch

    cand_ids = [tokenizer(c.text, add_special_tokens=False)["input_ids"] for c in candidates]
    if not cand_ids or any(not ids for ids in cand_ids):
        raise JarvisError("every probe candidate needs at least one token")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    trie = _Trie.of(cand_ids)
    firsts = sorted({ids[0] for ids in cand_ids})
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    window = window or getattr(getattr(model, "config", None), "max_position_embeddings", None)
    # The deepest tree token sits at the prompt's length - 1 + its depth: the last position there is room for.
    room = int(window) - max(trie.depths, default=0) if window else None
    truncated = room is not None and max(len(r) for r in rows) > room
    if truncated:
        if room is None or room < 1:
            raise JarvisError(f"the model's context of {window} tokens leaves no room for the probe's candidates")
        rows = [r[-room:] for r in rows]
    shared = shared_prefix_length(rows) if len(rows) > 1 and not truncated else 0
    shared = shared if shared >= MIN_SHARED_PREFIX else 0
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))  # similar lengths together: less padding
    out: dict[int, Scores] = {}
    with torch.inference_mode():
        prefix_cache = None
        if shared:
            prefix_cache = prefill(model, rows[0][:shared])
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            cache = copy.deepcopy(prefix_cache)
            if cache is not None:
                cache.batch_repeat_interleave(len(chunk))
            inputs = _tree_inputs([rows[i][shared:] for i in chunk], trie, shared, device, dtype)
            width = inputs.pop("width")
            keep = torch.arange(width - 1, width + len(trie.tokens), device=device)
            logits = model(**inputs, use_cache=True, logits_to_keep=keep, **{CACHE_ARGUMENT: cache}).logits
            for row, i in enumerate(chunk):
                out[i] = _read_scores(logits[row], cand_ids, trie, firsts)
    return [out[i] for i in range(len(rows))]


def _tree_inputs(rests: Sequence[Sequence[int]], trie: _Trie, past: int, device: Any, dtype: Any) -> dict[str, Any]:
    """Lay out rows as [left padding][prompt's own tokens][candidate tree], with a 4D mask and positions.

    Padding sits between the cached prefix and the prompt's tokens, as in generation's shared
    prefix; a padding token attends to the prefix and itself only, so its values stay finite and
    nothing reads them. Positions continue from the prefix; a tree token's is the prompt's end
    plus its depth, as if its candidate alone followed the prompt.
    """
    import torch

    width = max(len(r) for r in rests)
    nodes = len(trie.tokens)
    length = width + nodes
    allowed = torch.zeros(len(rests), length, past + length, dtype=torch.bool)
    allowed[:, :, :past] = True
    ids = torch.zeros(len(rests), length, dtype=torch.long)
    positions = torch.zeros(len(rests), length, dtype=torch.long)
    for b, rest in enumerate(rests):
        pad = width - len(rest)
        ids[b, pad:width] = torch.tensor(list(rest))
        ids[b, width:] = torch.tensor(trie.tokens)
        for q in range(pad):
            allowed[b, q, past + q] = True
        for k in range(len(rest)):
            allowed[b, pad + k, past + pad : past + pad + k + 1] = True
            positions[b, pad + k] = past + k
        for n, parent in enumerate(trie.parents):
            q = width + n
            allowed[b, q, past + pad : past + width] = True
            allowed[b, q, past + q] = True
            while parent >= 0:
                allowed[b, q, past + width + parent] = True
                parent = trie.parents[parent]
            positions[b, q] = past + len(rest) - 1 + trie.depths[n]
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    return {
        "input_ids": ids.to(device),
        "attention_mask": mask[:, None].to(device),
        "position_ids": positions.to(device),
        "width": width,
    }


def _read_scores(logits: Any, cand_ids: list[list[int]], trie: _Trie, firsts: list[int]) -> Scores:
    """Sum each candidate's token log-probs from one row's kept logits (0: the prompt's last token, 1 + n: node n).

    Only the few tokens read are normalised, each by its position's log-sum-exp: no log-softmax
    over the whole vocabulary at every position (most of the probe's time once the model has run).
    The prompt's last position is normalised in float64, so that "no call" stays a number when a
    call is near-certain; tree positions in float32, whose rounding (~1e-6 nats) is far below a margin.
    """
    import torch

    first = logits[0].double()
    first = first - torch.logsumexp(first, dim=0)
    tree = logits[1:]
    norms = torch.logsumexp(tree.float(), dim=-1).double().tolist() if len(tree) else []
    totals = []
    for ids, path in zip(cand_ids, trie.steps, strict=True):
        total = float(first[ids[0]])
        for j, node in enumerate(path, start=1):
            total += float(tree[node, ids[j]]) - norms[node]
        totals.append(total)
    # In float64 so a near-certain call still reads as a number.
    return Scores(logprobs=tuple(totals), no_call=no_call_logprob(float(torch.logsumexp(first[firsts], dim=0))))


def no_call_logprob(call_mass: float) -> float:
    """log(1 - P(the first token starts a call)) from log P(it does), floored at LOGP_FLOOR."""
    no_call = math.log(-math.expm1(call_mass)) if call_mass < 0 else LOGP_FLOOR
    return max(no_call, LOGP_FLOOR)


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
