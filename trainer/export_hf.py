"""`textshards export-hf`: a run as a `transformers` GPT-2 directory.

    DIR/config.json         GPT2Config: our dimensions, gelu_new (the tanh GELU we train with)
    DIR/model.safetensors   the weights, renamed and transposed to GPT-2's layout
    DIR/tokenizer.json, tokenizer_config.json, special_tokens_map.json   the run's tokenizer, its
                            model_max_length the model's positions (n_positions)

`AutoModelForCausalLM.from_pretrained(DIR)` gives the same logits as our model and
`AutoTokenizer.from_pretrained(DIR)` the same ids. GPT-2 keeps its linear weights as Conv1D,
(in, out), the transpose of nn.Linear's (out, in); its LM head is tied to wte, so the file holds
wte once. A model trained without biases is written with zero biases, which compute the same.
Packed-mode position resets and document masks are training-time only: the export, like GPT-2,
attends over the whole context.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from trainer.checkpoint import load_model
from trainer.generate import TOKENIZER_JSON, run_tokenizer
from transforms.tokenizer_copies import tokenizer_files


def gpt2_state_dict(model) -> dict[str, torch.Tensor]:
    """Our weights under GPT-2's names and layout (contiguous copies, ready for safetensors)."""
    c = model.config

    def linear(prefix: str, layer: torch.nn.Linear) -> dict[str, torch.Tensor]:
        bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_features)
        return {f"{prefix}.weight": layer.weight.t(), f"{prefix}.bias": bias}

    def norm(prefix: str, layer: torch.nn.LayerNorm) -> dict[str, torch.Tensor]:
        bias = layer.bias if layer.bias is not None else torch.zeros(c.n_embd)
        return {f"{prefix}.weight": layer.weight, f"{prefix}.bias": bias}

    out = {"transformer.wte.weight": model.wte.weight, "transformer.wpe.weight": model.wpe.weight}
    for i, block in enumerate(model.blocks):
        h = f"transformer.h.{i}"
        out |= norm(f"{h}.ln_1", block.ln_1) | linear(f"{h}.attn.c_attn", block.attn.qkv)
        out |= linear(f"{h}.attn.c_proj", block.attn.proj) | norm(f"{h}.ln_2", block.ln_2)
        out |= linear(f"{h}.mlp.c_fc", block.mlp.fc) | linear(f"{h}.mlp.c_proj", block.mlp.proj)
    out |= norm("transformer.ln_f", model.ln_f)
    return {name: tensor.detach().float().contiguous().clone() for name, tensor in out.items()}


def gpt2_config(model, eos_id: int) -> dict:
    c = model.config
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": c.vocab_size,
        "n_positions": c.block_size,
        "n_ctx": c.block_size,
        "n_embd": c.n_embd,
        "n_layer": c.n_layer,
        "n_head": c.n_head,
        "n_inner": None,  # 4 * n_embd, as ours
        "activation_function": "gelu_new",  # GELU, tanh approximation
        "resid_pdrop": c.dropout,
        "embd_pdrop": c.dropout,
        "attn_pdrop": c.dropout,
        "layer_norm_epsilon": 1e-5,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": True,
        "bos_token_id": eos_id,
        "eos_token_id": eos_id,
        "torch_dtype": "float32",
    }


def export_hf(checkpoint: str | Path, output: str | Path) -> Path:
    """Writes the `transformers` directory `output` for a checkpoint (or a run's best.pt)."""
    model, state, rundir = load_model(checkpoint)
    tokenizer = run_tokenizer(rundir, state["tokenizer_sha256"])  # refuses a missing or foreign tokenizer
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    save_file(gpt2_state_dict(model), str(output / "model.safetensors"), metadata={"format": "pt"})
    (output / "config.json").write_text(json.dumps(gpt2_config(model, state["eos_id"]), indent=2) + "\n")
    # model_max_length: the model's positions, so that truncation and the text-generation
    # pipeline's handle_long_generation="hole" keep a long prompt inside them.
    files = tokenizer_files(
        (rundir / TOKENIZER_JSON).read_bytes(), tokenizer.id_to_token(state["eos_id"]), model.config.block_size
    )
    for name, data in files.items():
        (output / name).write_bytes(data)
    return output
