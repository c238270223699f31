"""Turn a system prompt and a request into the exact text a model sees."""

from __future__ import annotations

from typing import Any

# Used when a tokenizer has no chat template (base, non-instruct models). Documented in the README.
PLAIN_FORMAT = "System: {system}\nUser: {user}\nAssistant:"


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def prompt_format(tokenizer: Any) -> str:
    """Return "chat_template" or "plain", as written into the results metadata."""
    return "chat_template" if has_chat_template(tokenizer) else "plain"


def template_text(tokenizer: Any) -> str:
    """Return the template that shapes prompts (for cache keys): the chat template or the plain format."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # some tokenizers hold several named templates
        return "\n".join(f"{k}:{v}" for k, v in sorted(template.items()))
    return template or PLAIN_FORMAT


def build_prompt(tokenizer: Any, system_prompt: str, user_prompt: str) -> str:
    """Render the chat template with the suite's system prompt, or the plain fallback.

    ``enable_thinking=False`` turns Qwen3's thinking off; templates that don't use the
    variable ignore it.
    """
    if not has_chat_template(tokenizer):
        return PLAIN_FORMAT.format(system=system_prompt, user=user_prompt)
    messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": user_prompt}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
