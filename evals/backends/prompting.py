"""Turn a system prompt and a request into the exact text a model sees, and a model's answer into its text."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Used when a tokenizer has no chat template (base, non-instruct models). Documented in the README.
PLAIN_FORMAT = "System: {system}\nUser: {user}\nAssistant:"
# How the plain format names the earlier turns of a follow-up.
HISTORY_ROLES = {"user": "User", "assistant": "Assistant", "tool": "Tool"}


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def template_of(tokenizer: Any) -> str:
    """Return "chat_template" or "plain", as written into the results metadata."""
    return "chat_template" if has_chat_template(tokenizer) else "plain"


def template_text(tokenizer: Any) -> str:
    """Return the template that shapes prompts (for cache keys): the chat template or the plain format."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # some tokenizers hold several named templates
        return "\n".join(f"{k}:{v}" for k, v in sorted(template.items()))
    return template or PLAIN_FORMAT


def build_prompt(
    tokenizer: Any,
    system_prompt: str,
    user_prompt: str,
    tools: list[dict[str, Any]] | None = None,
    history: Sequence[tuple[str, str]] = (),
) -> str:
    """Render the chat template with the suite's system prompt, or the plain fallback.

    ``enable_thinking=False`` turns Qwen3's thinking off; templates that don't use the
    variable ignore it. ``tools`` (the native-tools format) are function schemas the template
    renders in its own tools section (Qwen3's and Hermes' ``<tools>`` block).
    """
    if not has_chat_template(tokenizer):
        earlier = "".join(f"{HISTORY_ROLES.get(role, role)}: {content}\n" for role, content in history)
        return PLAIN_FORMAT.format(system=system_prompt, user=user_prompt).replace("User:", earlier + "User:", 1)
    turns = [{"role": role, "content": content} for role, content in history]
    messages = [{"role": "system", "content": system_prompt}, *turns, {"role": "user", "content": user_prompt}]
    extra = {"tools": tools} if tools else {}
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, enable_thinking=False, **extra
    )


def template_ignores_tools(tokenizer: Any, tools: list[dict[str, Any]]) -> bool:
    """True when adding the tools does not change the rendered prompt (SmolLM2's template, for one)."""
    return build_prompt(tokenizer, "s", "u", tools) == build_prompt(tokenizer, "s", "u")


def template_of_folder(folder: Path) -> str:
    """Return "chat_template" or "plain" from a model folder's files, without loading the tokenizer.

    transformers reads a chat template from ``chat_template.jinja``, ``chat_template.json`` or the
    ``chat_template`` key of ``tokenizer_config.json``. A hub id not downloaded yet is "unknown".
    """
    if not folder.is_dir():
        return "unknown"
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return "chat_template"
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return "plain"
    return "chat_template" if isinstance(config, dict) and config.get("chat_template") else "plain"


# A common prefix shorter than this is not worth a separate forward pass (generation and training).
MIN_SHARED_PREFIX = 8


def prefill(model: Any, prefix: Sequence[int], rows: int = 1) -> Any:
    """The key/value cache of a prefix every row shares (the system prompt), computed once and repeated ``rows`` times.

    Only the last position's logits are computed: the cache is what the rows continue from.
    """
    import torch

    device = next(model.parameters()).device
    out = model(input_ids=torch.tensor([list(prefix)], device=device), use_cache=True, logits_to_keep=1)
    cache = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
    if rows > 1:
        cache.batch_repeat_interleave(rows)
    return cache


def shared_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Return how many leading tokens every row shares, leaving each row at least one token of its own.

    Rows rendered from one system prompt share it; computing it once per batch (its key/value
    cache in generation, its hidden states in training) saves most of a JARVIS prompt's work.
    """
    if not rows:
        return 0
    shortest = min(len(r) for r in rows)
    n = 0
    while n < shortest - 1 and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n


_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
# Templates that open the block in the prompt leave the answer with a closing tag only.
_THINK_TAIL = re.compile(r"^.*</think>", re.DOTALL | re.IGNORECASE)


def strip_think(text: str) -> str:
    """Drop reasoning and trim: ``<think>...</think>`` blocks, an unclosed one to the end, and
    everything before a lone ``</think>`` (the template opened the block in the prompt)."""
    return _THINK_TAIL.sub("", _THINK.sub("", text)).strip()
