"""jarvis-evals: a pytest benchmark of a LoRA fine-tune against its base model as JARVIS."""

__version__ = "0.1.0"
