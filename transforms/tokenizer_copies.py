"""Every copy of a tokenizer, as `transformers` loads it: tokenizer.json and the two files beside it.

    tokenizer.json bytes, end-of-text token --tokenizer_files--> {tokenizer.json, tokenizer_config.json,
                                                                  special_tokens_map.json}

train-tokenizer's output, the shard directory's copy, a run's copy, the nanoGPT export and the
exported model all write this one set, so `AutoTokenizer.from_pretrained(DIR)` on any of them
finds the same eos and bos tokens. Plain JSON only (no Beam, no `tokenizers`): the trainer writes
copies where only torch is installed.
"""

from __future__ import annotations

import json

TOKENIZER_JSON = "tokenizer.json"
# transformers' own "no limit" (VERY_LARGE_INTEGER), for a tokenizer not tied to one model.
NO_LENGTH_LIMIT = 1_000_000_000_000_000_019_884_624_838_656


def tokenizer_files(tokenizer_json: bytes, eos_token: str, model_max_length: int = NO_LENGTH_LIMIT) -> dict[str, bytes]:
    """The files of a tokenizer directory, by name: `tokenizer_json` itself, unchanged, and the
    tokenizer_config.json and special_tokens_map.json that `transformers` reads beside it.

    `eos_token` (the end-of-text token, the document separator of the shards) is eos, bos and
    unk, as in GPT-2 (unk is never produced); the tokenizer's other special tokens, in id order,
    are additional special tokens. `split_special_tokens` keeps plain text from producing special
    tokens; spaces are never "cleaned up" on decoding, which would break the round trip.
    `model_max_length` is the model's context (n_positions) where the copy belongs to one model,
    so that truncation and the text-generation pipeline's `handle_long_generation` fit it.
    """
    added = json.loads(tokenizer_json)["added_tokens"]
    others = [t["content"] for t in sorted(added, key=lambda t: t["id"]) if t["special"] and t["content"] != eos_token]
    special: dict[str, str | list[str]] = {"bos_token": eos_token, "eos_token": eos_token, "unk_token": eos_token}
    if others:
        special["additional_special_tokens"] = others
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special,
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": True,
        "model_max_length": model_max_length,
    }
    return {
        TOKENIZER_JSON: tokenizer_json,
        "tokenizer_config.json": _json_bytes(tokenizer_config),
        "special_tokens_map.json": _json_bytes(special),
    }


def _json_bytes(data: dict) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
