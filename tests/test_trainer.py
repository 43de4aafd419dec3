"""The trainer end to end on real shards (conftest's `alice_shards` and `alice_packed_shards`), with
a tiny model (2 layers, 32 dims, block 16) so that every run takes seconds on a CPU."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PACKED_SEQ_LEN, REPO_ROOT

torch = pytest.importorskip("torch")

from pipeline.cli import main  # noqa: E402
from trainer import checkpoint  # noqa: E402
from trainer.config import build_config, parse_override, read_overrides  # noqa: E402
from trainer.data import ShardError  # noqa: E402
from trainer.metrics import clock, read_metrics  # noqa: E402
from trainer.model import GPT, GPTConfig  # noqa: E402
from trainer.train import lr_at, make_optimizer, train  # noqa: E402
from transforms.settings import ConfigError  # noqa: E402

TINY = {
    "n_layer": 2,
    "n_head": 2,
    "n_embd": 32,
    "block_size": 16,
    "batch_size": 4,
    "lr": 3e-3,
    "warmup_steps": 3,
    "log_interval": 1,
    "eval_interval": 5,
    "eval_windows": 32,
    "threads": 1,
}


def tiny(shards: Path, **overrides) -> dict:
    return {"shards": str(shards), **TINY, **overrides}


def losses(rundir: Path, kind: str = "train") -> list[float]:
    key = "loss" if kind == "train" else "val_loss"
    return [m[key] for m in read_metrics(rundir / "metrics.jsonl") if m["kind"] == kind]


@pytest.mark.slow  # kill and resume: three training runs
def test_a_killed_and_resumed_run_continues_bitwise(alice_shards, tmp_path):
    # Dropout on, so the RNG state must come back too; the schedule spans 20 steps in both runs.
    settings = tiny(alice_shards, dropout=0.1, lr_decay_steps=20)
    straight = tmp_path / "straight"
    train(straight, {**settings, "max_steps": 20})

    resumed = tmp_path / "resumed"
    train(resumed, {**settings, "max_steps": 10})
    with open(resumed / "metrics.jsonl", "a") as handle:  # as if killed after logging step 11
        handle.write(json.dumps({"kind": "train", "step": 11, "loss": 0.0}) + "\n")
    train(resumed, {**settings, "max_steps": 20})

    assert len(losses(straight)) == 20
    assert losses(resumed) == losses(straight)  # float equality: bitwise
    assert losses(resumed, "eval") == losses(straight, "eval")
    a = torch.load(straight / checkpoint.LAST, weights_only=True)
    b = torch.load(resumed / checkpoint.LAST, weights_only=True)
    assert a["step"] == b["step"] == 20
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert torch.equal(a["rng"][0]["cpu"], b["rng"][0]["cpu"])


@pytest.mark.slow  # torchrun starts two processes
def test_ddp_on_two_cpu_processes_matches_one_process_with_the_same_global_batch(alice_shards, tmp_path, capsys):
    # 128 tokens a step: 1 process x 4 micro-batches of 2 x 16, or 2 processes x 2 micro-batches.
    sets = {
        **TINY,
        "batch_size": 2,
        "tokens_per_step": 128,
        "max_steps": 6,
        "eval_interval": 3,
        "threads": 0,
        "verify": "size",
    }
    args = ["--shards", str(alice_shards), "--max-steps", "6"] + [f"--set={k}={v}" for k, v in sets.items()]
    assert main(["train", "--output", str(tmp_path / "one"), *args, "--set=threads=1"]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "pipeline.cli",
            "train",
            "--output",
            str(tmp_path / "two"),
            *args,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ddp.returncode == 0, f"stdout:\n{ddp.stdout[-3000:]}\nstderr:\n{ddp.stderr[-10000:]}"
    assert "2 x 2 x 2 windows" in ddp.stdout and "1 x 4 x 2 windows" in capsys.readouterr().out
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(one) == len(two) == 6
    for a, b in zip(one + losses(tmp_path / "one", "eval"), two + losses(tmp_path / "two", "eval")):
        assert abs(a - b) <= 1e-5 * abs(a), (one, two)
    assert len(torch.load(tmp_path / "two" / checkpoint.LAST, weights_only=True)["rng"]) == 2  # every rank's


def test_early_stopping_keeps_the_best_checkpoint(alice_shards, tmp_path, capsys):
    run = tmp_path / "run"
    # No evaluation can improve on the first by 100 nats: stop after the 2 that follow it.
    summary = train(run, tiny(alice_shards, max_steps=50, eval_interval=2, patience=2, min_delta=100.0))
    assert summary["stopped_early"] and summary["step"] == 6 and summary["best_step"] == 2
    assert checkpoint.load(run / checkpoint.BEST)["step"] == 2
    assert checkpoint.load(run / checkpoint.LAST)["step"] == 6
    assert "early stop" in capsys.readouterr().out
    train(run, tiny(alice_shards, max_steps=50, eval_interval=2, patience=2, min_delta=100.0))
    assert "already complete at step 6 (stopped early)" in capsys.readouterr().out


def test_progress_lines_show_elapsed_time_and_eta(alice_shards, tmp_path, capsys):
    train(tmp_path / "run", tiny(alice_shards, max_steps=4))  # warmup_steps 3: no warning
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("step ")]
    assert len(lines) == 4 and all(re.search(r" \| elapsed \d+:\d\d \| eta \d+:\d\d$", line) for line in lines)
    assert lines[-1].endswith("| eta 0:00") and "warning" not in err


def test_clock_shows_minutes_and_seconds_and_hours_from_an_hour():
    assert [clock(s) for s in (0, 7.4, 65, 3599.6, 3725)] == ["0:00", "0:07", "1:05", "1:00:00", "1:02:05"]


def test_a_run_no_longer_than_its_warmup_warns_once(alice_shards, tmp_path, capsys):
    train(tmp_path / "run", tiny(alice_shards, max_steps=3, warmup_steps=3))
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [
        "textshards train: warning: max_steps (3) <= warmup_steps (3): the learning rate rises for the whole "
        "run and never decays; set warmup_steps below max_steps (--set warmup_steps=N)"
    ]


def test_training_evaluates_at_the_end_between_eval_intervals(alice_shards, tmp_path):
    run = tmp_path / "run"
    summary = train(run, tiny(alice_shards, max_steps=7, eval_interval=5))
    assert [m["step"] for m in read_metrics(run / "metrics.jsonl") if m["kind"] == "eval"] == [5, 7]
    assert checkpoint.load(run / checkpoint.LAST)["step"] == 7 and summary["best_step"] in (5, 7)


def test_metrics_bits_per_byte_and_loss_curve(alice_shards, tmp_path):
    run = tmp_path / "run"
    summary = train(run, tiny(alice_shards, max_steps=10))
    evals = [m for m in read_metrics(run / "metrics.jsonl") if m["kind"] == "eval"]
    assert [m["step"] for m in evals] == [5, 10]
    validation = json.loads((alice_shards / "manifest.json").read_text())["splits"]["validation"]
    expected = evals[-1]["val_loss"] / math.log(2) * validation["tokens"] / validation["text_bytes"]
    assert evals[-1]["val_bpb"] == pytest.approx(expected)
    assert summary["best_val_bpb"] == pytest.approx(min(m["val_bpb"] for m in evals))
    train_lines = [m for m in read_metrics(run / "metrics.jsonl") if m["kind"] == "train"]
    assert all(m["tokens_per_s"] > 0 and m["mfu"] is None for m in train_lines)  # no MFU on CPU
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "tokenizer" / "tokenizer.json").exists()


def test_packed_shards_train_with_document_masks_and_positions(alice_packed_shards, tmp_path):
    summary = train(tmp_path / "run", tiny(alice_packed_shards, max_steps=4, document_boundaries="both"))
    assert summary["step"] == 4 and math.isfinite(summary["best_val_loss"])
    with pytest.raises(ConfigError, match=f"block_size: 8 but the packed shards' windows hold {PACKED_SEQ_LEN}"):
        train(tmp_path / "other", tiny(alice_packed_shards, block_size=8))


def test_shards_of_another_tokenizer_or_that_do_not_verify_are_refused(alice_shards, tmp_path, capsys):
    run = tmp_path / "run"
    train(run, tiny(alice_shards, max_steps=2))
    other = tmp_path / "other"
    shutil.copytree(alice_shards, other)
    manifest = json.loads((other / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps({**manifest, "tokenizer_sha256": "ab" * 32}))
    with pytest.raises(ShardError, match="made with tokenizer sha256 abababab"):
        train(run, {"shards": str(other), "max_steps": 4})  # the resumed run is pinned to its tokenizer

    broken = tmp_path / "broken"
    shutil.copytree(alice_shards, broken)
    shard = broken / manifest["splits"]["train"]["shards"][0]["path"]
    shard.write_bytes(shard.read_bytes()[:-8])
    assert main(["train", "--shards", str(broken), "--output", str(tmp_path / "run2"), "--set", "n_layer=1"]) == 2
    stderr = capsys.readouterr().err
    assert "shards error" in stderr and "do not verify" in stderr and "bytes" in stderr


def test_export_hf_loads_in_transformers_with_the_same_logits_ids_and_context(alice_shards, tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    run = tmp_path / "run"
    train(run, tiny(alice_shards, max_steps=5))
    out = tmp_path / "hf"
    assert main(["export-hf", "--checkpoint", str(run), "--output", str(out)]) == 0, capsys.readouterr().err
    hf = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    model, state, _ = checkpoint.load_model(run)
    from trainer.generate import run_tokenizer

    text = "Alice was beginning to get very tired <|endoftext|>"
    ids = run_tokenizer(run, state["tokenizer_sha256"]).encode(text).ids
    assert hf_tokenizer(text)["input_ids"] == ids
    x = torch.tensor([ids[:16], ids[-16:]])
    with torch.no_grad():
        ours, _ = model(x)
        theirs = hf(x).logits
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-5), (ours - theirs).abs().max()

    # The tokenizer knows the model's 16 positions: a prompt of many more is cut to fit them.
    assert hf_tokenizer.model_max_length == hf.config.n_positions == 16
    assert len(hf_tokenizer(text * 5, truncation=True)["input_ids"]) == 16
    generator = transformers.pipeline("text-generation", model=hf, tokenizer=hf_tokenizer)
    prompt = "Alice was beginning to get very tired of sitting by her sister on the bank."
    assert len(hf_tokenizer(prompt)["input_ids"]) > 16
    [out] = generator(prompt, max_new_tokens=4, do_sample=False, handle_long_generation="hole")
    assert out["generated_text"].startswith(prompt)


def test_every_tokenizer_copy_loads_in_transformers_with_eos_and_bos(alice_tokenize_inputs, alice_shards, tmp_path):
    """train-tokenizer's output (as the fixture writes it; test_tokenizer_training checks the stage's
    own), the shards' copy, the run's copy and the exported model's: the same tokens everywhere."""
    transformers = pytest.importorskip("transformers")
    run = tmp_path / "run"
    train(run, tiny(alice_shards, max_steps=1))
    assert main(["export-hf", "--checkpoint", str(run), "--output", str(tmp_path / "hf")]) == 0
    eos_id = json.loads((alice_shards / "manifest.json").read_text())["eos_id"]
    text = "Alice was beginning <|endoftext|>"
    expected = None
    for copy in [alice_tokenize_inputs / "tokenizer", alice_shards, run / "tokenizer", tmp_path / "hf"]:
        tokenizer = transformers.AutoTokenizer.from_pretrained(copy)
        assert (tokenizer.eos_token, tokenizer.bos_token) == ("<|endoftext|>", "<|endoftext|>"), copy
        assert tokenizer.eos_token_id == tokenizer.bos_token_id == eos_id, copy
        ids = tokenizer(text)["input_ids"]
        assert eos_id not in ids  # plain text never gives the end-of-text token
        assert ids == (expected := expected or ids), copy


def test_export_of_a_model_without_biases_writes_zero_biases_that_compute_the_same():
    transformers = pytest.importorskip("transformers")
    from trainer.export_hf import gpt2_config, gpt2_state_dict

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, block_size=8, n_layer=2, n_head=2, n_embd=16, bias=False)).eval()
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(**gpt2_config(model, eos_id=0))).eval()
    missing, unexpected = hf.load_state_dict(gpt2_state_dict(model), strict=False)
    assert not unexpected and all(name == "lm_head.weight" or name.endswith("attn.bias") for name in missing)
    x = torch.randint(0, 64, (2, 8))
    with torch.no_grad():
        assert torch.allclose(model(x)[0], hf(x).logits, atol=1e-5)


def test_generate_continues_the_prompt_with_the_runs_tokenizer(alice_shards, tmp_path, capsys):
    run = tmp_path / "run"
    train(run, tiny(alice_shards, max_steps=5))
    capsys.readouterr()
    command = ["generate", "--checkpoint", str(run), "--prompt", "Alice said", "--max-new-tokens", "12", "--seed", "3"]
    assert main(command) == 0
    first = capsys.readouterr().out
    assert first.startswith("Alice said") and len(first) > len("Alice said\n")
    assert main(command) == 0 and capsys.readouterr().out == first  # the seed fixes the sample

    (run / "tokenizer" / "tokenizer.json").write_text("{}")
    assert main(command) == 2
    assert "differs from the tokenizer the run was trained with" in capsys.readouterr().err


def test_greedy_generation_stops_at_end_of_text_and_never_draws_padded_ids():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, block_size=8, n_layer=1, n_head=2, n_embd=16)).eval()
    with torch.no_grad():
        model.lm_head.weight[50:] += 5.0  # padded ids would win every draw
    out = model.generate(torch.tensor([[1, 2]]), 20, temperature=1.0, vocab_size=50)
    assert out.shape == (1, 22) and out.max() < 50
    eos = int(model.generate(torch.tensor([[1, 2]]), 1, temperature=0, vocab_size=50)[0, -1])
    stopped = model.generate(torch.tensor([[1, 2]]), 20, temperature=0, vocab_size=50, stop_token=eos)
    assert stopped.shape == (1, 3)


def test_model_is_causal_and_document_masks_isolate_documents():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=32, block_size=12, n_layer=2, n_head=2, n_embd=16)).eval()
    x = torch.randint(1, 32, (1, 12))
    changed = x.clone()
    changed[0, 8:] = (changed[0, 8:] + 1) % 32
    with torch.no_grad():
        assert torch.allclose(model(x)[0][:, :8], model(changed)[0][:, :8], atol=1e-6)
        # A window holding [doc A, eos, doc B]: with positions and mask, doc B's logits are those
        # of doc B alone.
        from trainer.train import document_inputs

        packed = x.clone()
        packed[0, 4] = 0
        positions, mask = document_inputs(packed, eos_id=0, mode="both")
        alone = model(packed[:, 5:])[0]
        together = model(packed, positions=positions, attn_mask=mask)[0][:, 5:]
        assert torch.allclose(alone, together, atol=1e-5)


def test_gpt2_initialisation_and_tied_head():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=512, block_size=64, n_layer=8, n_head=4, n_embd=256))
    assert model.lm_head.weight is model.wte.weight
    assert model.blocks[0].mlp.fc.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.blocks[0].attn.proj.weight.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.05)


def test_learning_rate_warms_up_then_decays_by_cosine_to_the_floor():
    config = build_config({"lr": 1e-3, "warmup_steps": 10, "max_steps": 110, "min_lr_fraction": 0.1})
    assert lr_at(1, config) == pytest.approx(1e-4)
    assert lr_at(10, config) == pytest.approx(1e-3)
    assert lr_at(60, config) == pytest.approx(1e-4 + 0.5 * 9e-4)
    assert lr_at(110, config) == pytest.approx(1e-4) == lr_at(500, config)


def test_weight_decay_applies_to_matrices_only():
    model = GPT(GPTConfig(vocab_size=64, block_size=8, n_layer=1, n_head=2, n_embd=16))
    decayed, plain = make_optimizer(model, build_config({"weight_decay": 0.1}), torch.device("cpu")).param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"]) and all(p.dim() == 1 for p in plain["params"])
    assert sum(p.numel() for g in (decayed, plain) for p in g["params"]) == model.num_parameters(False)


def test_config_errors_name_the_field_and_value(tmp_path):
    assert parse_override("lr=3e-4") == {"lr": 3e-4}
    assert parse_override("n_layer=null") == {"n_layer": None}
    with pytest.raises(ConfigError, match="lr: expected a number, got 'fast'"):
        build_config(parse_override("lr=fast"))
    with pytest.raises(ConfigError, match="n_embd: 30 must be a multiple of n_head"):
        build_config({"n_embd": 30})
    with pytest.raises(ConfigError, match="--set: 'learning_rate=1' must be KEY=VALUE"):
        parse_override("learning_rate=1")
    with pytest.raises(ConfigError, match=r"tokens_per_step: 100 must be a multiple of .* = 768"):
        build_config({"tokens_per_step": 100}).micro_steps(1)
    with pytest.raises(ConfigError, match="n_layer: 3 differs from the resumed run's 2"):
        build_config({"n_layer": 3}, base={"n_layer": 2})
    (tmp_path / "run.toml").write_text('preset = "gpt2"\nlr = 1e-4\n')
    config = build_config(read_overrides(str(tmp_path / "run.toml"), ["lr=2e-4"], {"max_steps": 7}))
    assert (config.preset, config.lr, config.max_steps, config.model_dims()["n_embd"]) == ("gpt2", 2e-4, 7, 768)


def test_every_bad_setting_of_a_training_run_is_listed_at_once():
    with pytest.raises(ConfigError) as raised:
        build_config({"preset": "huge", "dropout": 1.0, "lr": 0, "n_head": 0, "beta2": 1.5, "max_steps": "many"})
    assert raised.value.problems == [
        "max_steps: expected an integer, got 'many'",
        "preset: 'huge' is not one of tiny, gpt2, gpt2-medium",
        "n_head: 0 must be > 0",
        "dropout: 1.0 must be in [0, 1)",
        "lr: 0.0 must be > 0",
        "beta2: 1.5 must be in [0, 1)",
    ]


def test_train_with_a_run_config_trains_with_its_run_train_section(tmp_path, caplog):
    run_config = tmp_path / "run.yaml"
    run_config.write_text("inputs: [{name: books, glob: 'b/*.txt'}]\nrun:\n  train: {preset: tiny, max_steps: 600}\n")
    assert read_overrides(str(run_config), [], {"max_steps": 7}) == {"preset": "tiny", "max_steps": 7}
    assert "is a run configuration (`textshards run`): training with its run.train settings" in caplog.text


@pytest.mark.slow  # a Python process of its own
def test_cli_without_torch_says_to_install_the_train_extra():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from pipeline.cli import main\n"
        "sys.exit(main(['train', '--shards', 'x', '--output', 'y']))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "install textshards[train]" in result.stderr


@pytest.mark.slow  # a Python process of its own
def test_training_needs_no_beam_as_on_the_gpu_machine(alice_shards, tmp_path):
    """bench/gpu_check.sh runs where torch is installed but apache-beam is not (verify=size)."""
    code = (
        "import sys; sys.modules['apache_beam'] = None\n"
        "from pipeline.cli import main\n"
        f"sys.exit(main(['train', '--shards', {str(alice_shards)!r}, '--output', {str(tmp_path / 'run')!r}, "
        "'--max-steps', '2', '--set', 'verify=size', '--set', 'n_layer=1', '--set', 'block_size=16']))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "step 2/2" in result.stdout
