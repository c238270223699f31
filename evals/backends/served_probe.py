"""The routing probe through an OpenAI-compatible server that returns prompt log-probabilities (vLLM).

vLLM's chat completions take ``prompt_logprobs`` (each prompt token's log-probability) and
``continue_final_message`` (render the last message, an assistant's, left open as the start of the
answer). Asked for the case's messages plus an assistant message holding a candidate
(``volume_up``), the server returns log P(each token | what precedes it); the candidate's tokens
are the prompt's last ones, and their sum is the in-process probe's number (evals/probe.py):
log P(the answer starts with the candidate). The first of those tokens says which first tokens
the tools have, whose probabilities give "no call" as in process. One request per case and
candidate; a server that caches prefixes (vLLM does) computes the shared prompt once.

Only the system-text format is probed this way: a native call's opening (``<tool_call>`` and the
rest) is the server's chat template's to render, which this side does not hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evals.errors import JarvisError
from evals.probe import no_call_logprob as no_call_from_mass
from evals.records.probe import ProbeCase, choose
from evals.records.suite import SYSTEM_TEXT, Case, Suite

# Asked with every probe request: the prompt's own log-probabilities (k = 0: the prompt token's
# alone), the assistant message left open, and one new token (some servers refuse 0).
PROBE_FIELDS: Mapping[str, Any] = {
    "prompt_logprobs": 0,
    "add_generation_prompt": False,
    "continue_final_message": True,
    "max_tokens": 1,
    "temperature": 0.0,
    "stream": False,
}


class NoPromptLogprobs(JarvisError):
    """The server answered without prompt log-probabilities: it cannot be probed."""


@dataclass(frozen=True)
class Scored:
    """One candidate after one case's prompt: log P(its tokens), and its first token's id and log P."""

    logprob: float
    first_token: str
    first_logprob: float


def probe_body(
    model: str, messages: Sequence[Mapping[str, str]], candidate: str, template_kwargs: bool
) -> dict[str, Any]:
    """The chat completion that scores ``candidate`` as the start of the answer to ``messages``."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [*messages, {"role": "assistant", "content": candidate}],
        **PROBE_FIELDS,
    }
    if template_kwargs:
        body["chat_template_kwargs"] = {"enable_thinking": False}
    return body


def candidate_score(data: Any, candidate: str) -> Scored:
    """Read log P(candidate | prompt) off a response's ``prompt_logprobs``: the trailing tokens that spell it.

    Each entry (one per prompt token, the first null) maps a token id to ``{"logprob", "decoded_token"}``;
    with ``prompt_logprobs: 0`` the prompt's own token is the only key. Raises NoPromptLogprobs when
    the response has none, and JarvisError when the prompt does not end with the candidate (a server
    that renders something after the open message: it ignored ``continue_final_message``).
    """
    entries = data.get("prompt_logprobs") if isinstance(data, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise NoPromptLogprobs("no prompt_logprobs in its chat completions")
    spelled = ""
    total = 0.0
    for entry in reversed(entries):
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise JarvisError(f"its prompt_logprobs entries are not one token each ({str(entry)[:80]})")
        ((token, info),) = entry.items()
        if not isinstance(info, Mapping) or not isinstance(info.get("logprob"), int | float):
            raise JarvisError(f"its prompt_logprobs entry has no logprob ({str(entry)[:80]})")
        spelled = str(info.get("decoded_token") or "") + spelled
        logprob = max(float(info["logprob"]), -1e4)  # -inf (a token ruled out) stays a number
        total += logprob
        if spelled == candidate:
            return Scored(logprob=total, first_token=str(token), first_logprob=logprob)
        if len(spelled) >= len(candidate):
            break
    raise JarvisError(
        f"its prompt does not end with the candidate {candidate!r} (it ends {spelled[-40:]!r}): "
        "the server does not continue the final message (continue_final_message)"
    )


def no_call_logprob(scored: Sequence[Scored]) -> float:
    """log(1 - P(the first answer token starts some tool)), from the candidates' distinct first tokens."""
    firsts = {s.first_token: s.first_logprob for s in scored}
    top = max(firsts.values())
    return no_call_from_mass(top + math.log(sum(math.exp(v - top) for v in firsts.values())))


def case_turns(suite: Suite, case: Case) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    """A case as the system-text format asks it: (system, user, tools, history), a Prompt's fields."""
    history = tuple((t.role, t.content) for t in case.history)
    return suite.system_prompt_for(SYSTEM_TEXT), case.prompt, "", history


def probe_records(cases: Sequence[Case], tools: Sequence[str], arm: str, scored: Sequence[Scored]) -> list[ProbeCase]:
    """One record per case from its tools' scores (``scored``: case by case, each tool in ``tools`` order)."""
    records = []
    for i, case in enumerate(cases):
        row = scored[i * len(tools) : (i + 1) * len(tools)]
        logprobs = {tool: s.logprob for tool, s in zip(tools, row, strict=True)}
        no_call = no_call_logprob(row)
        records.append(choose(case.id, arm, SYSTEM_TEXT, logprobs, case.expected_tools, no_call, case.expects_nothing))
    return records
