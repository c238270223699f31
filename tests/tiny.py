"""Build tiny real models for tests: a byte-level tokenizer, a 2-layer Llama and a LoRA on it."""

from __future__ import annotations

from pathlib import Path

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_tokenizer(chat_template: bool = True):
    """Return a byte-level tokenizer (no merges) that needs no download."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        additional_special_tokens=["<|im_start|>"],
    )
    if chat_template:
        tokenizer.chat_template = CHATML
    return tokenizer


def make_llama(
    path: Path, seed: int = 0, hidden: int = 64, chat_template: bool = True, max_positions: int = 2048
) -> Path:
    """Save a randomly initialised 2-layer Llama and its tokenizer to ``path`` (context ``max_positions``)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = make_tokenizer(chat_template)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def make_lora(model_dir: Path, path: Path, seed: int = 1, r: int = 4, scale: float = 1.0) -> Path:
    """Save a real LoRA with non-zero weights (``init_lora_weights=False``) so the arms differ."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_dir)
    torch.manual_seed(seed)
    config = LoraConfig(r=r, lora_alpha=2 * r, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    model = get_peft_model(base, config)
    if scale != 1.0:
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "lora_" in name:
                    param.mul_(scale)
    model.save_pretrained(path)
    return path


def make_trained_lora(
    model_dir: Path,
    path: Path,
    answer: str,
    prompts: list[str],
    system_prompt: str,
    steps: int = 60,
    tools: list[dict] | None = None,
) -> Path:
    """Train a LoRA on the tiny Llama until it answers ``answer`` to the given prompts (greedy).

    With ``tools`` the prompts are rendered as the native-tools format renders them.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evals.backends.prompting import build_prompt

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model_dir),
        LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"),
    )
    texts = [build_prompt(tokenizer, system_prompt, prompt, tools) for prompt in prompts]
    target = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    width = max(len(r) for r in rows) + len(target)
    pad = tokenizer.pad_token_id
    # Right-pad one full batch: every prompt followed by the answer; loss on the answer only.
    input_ids = torch.tensor([r + target + [pad] * (width - len(r) - len(target)) for r in rows])
    labels = torch.tensor([[-100] * len(r) + target + [-100] * (width - len(r) - len(target)) for r in rows])
    mask = torch.tensor([[1] * (len(r) + len(target)) + [0] * (width - len(r) - len(target)) for r in rows])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(path)
    return path
