"""Save a bitsandbytes NF4 (double quant, fp32 compute) copy of an HF model folder, for lm-eval 0.4.13.

lm-eval passes load_in_4bit straight to from_pretrained, which transformers 5 refuses; a checkpoint
saved already quantized loads through its config instead. usage: prequantize.py SRC DST
"""

import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

src, dst = sys.argv[1], sys.argv[2]
q = BitsAndBytesConfig(
    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.float32
)
AutoModelForCausalLM.from_pretrained(src, quantization_config=q, device_map="cpu").save_pretrained(dst)
AutoTokenizer.from_pretrained(src).save_pretrained(dst)
