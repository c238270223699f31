"""Bind the generation cache to one run: its context, the two arms' adapter fingerprints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from evals.cache import NO_ADAPTER, CacheContext, CachedAnswer, GenerationCache, entry_key, fingerprint_adapter, fingerprint_model
from evals.records import GenerationSettings


@dataclass
class RunCache:
    """Keys and stores the answers of one run; the base arm is keyed without the adapter."""

    store: GenerationCache
    context: CacheContext
    adapter_fingerprint: str

    @classmethod
    def open(
        cls,
        config: Any,
        model_path: str,
        adapter: Path,
        tokenizer: Any,
        system_prompt: str,
        settings: GenerationSettings,
    ) -> RunCache:
        from evals.models import pick_device
        from evals.prompting import template_text

        path = Path(config.cache_dir) / "generations.sqlite" if config.cache_dir else None
        context = CacheContext(
            model=fingerprint_model(model_path),
            quantization=config.quant,
            chat_template=template_text(tokenizer),
            system_prompt=system_prompt,
            generation=settings.to_dict(),
            device=pick_device(),
        )
        return cls(store=GenerationCache(path), context=context, adapter_fingerprint=fingerprint_adapter(adapter))

    def key(self, arm: str, prompt: str) -> str:
        return entry_key(self.context, NO_ADAPTER if arm == "base" else self.adapter_fingerprint, prompt)

    def get(self, keys: Iterable[str]) -> dict[str, CachedAnswer]:
        return self.store.get_many(list(keys))

    def put(self, answers: Mapping[str, Any]) -> None:
        self.store.put_many({k: CachedAnswer(text=a.text, new_tokens=a.new_tokens) for k, a in answers.items()})
