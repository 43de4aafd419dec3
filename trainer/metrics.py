"""What a run reports: the progress line, RUNDIR/metrics.jsonl, MFU and the loss-curve PNG.

metrics.jsonl holds one JSON object a line:
    {"kind": "train", "step", "loss", "lr", "tokens", "tokens_per_s", "mfu"}   every log_interval steps
    {"kind": "eval", "step", "val_loss", "val_bpb", "best_val_loss", "best_step"}  every evaluation
Losses are mean cross-entropy in nats per token; val_bpb is bits per UTF-8 byte of text.
"""

from __future__ import annotations

import json
from pathlib import Path

# Dense bf16 peak of the accelerators we know, TFLOP/s (vendor data sheets, SXM parts).
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0}


def peak_flops(device_name: str, configured_tflops: float) -> float | None:
    """FLOP/s that MFU is measured against: the configured figure, else the device's, else None."""
    if configured_tflops:
        return configured_tflops * 1e12
    for name, tflops in PEAK_TFLOPS.items():
        if name in device_name:
            return tflops * 1e12
    return None


class MetricsLog:
    """Appends to RUNDIR/metrics.jsonl. On a resume, drops the lines of steps after the
    checkpoint (a killed run may have logged steps that the resumed run will do again)."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        if resume_step is None:
            path.write_text("")
        elif path.exists():
            kept = [
                line
                for line in path.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] <= resume_step
            ]
            path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")


def read_metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def progress_line(
    step: int,
    max_steps: int,
    loss: float,
    lr: float,
    tokens_per_s: float,
    mfu: float | None,
    elapsed_s: float,
    eta_s: float,
) -> str:
    """`step 200/2000 | loss 2.3141 | lr 9.62e-04 | 18,850 tok/s | elapsed 1:05 | eta 9:45 | mfu 41.2%`."""
    width = len(str(max_steps))
    line = (
        f"step {step:>{width}}/{max_steps} | loss {loss:.4f} | lr {lr:.2e} | {tokens_per_s:,.0f} tok/s"
        f" | elapsed {clock(elapsed_s)} | eta {clock(eta_s)}"
    )
    return line + (f" | mfu {100 * mfu:.1f}%" if mfu is not None else "")


def clock(seconds: float) -> str:
    """A duration as m:ss, or h:mm:ss from an hour."""
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def eval_line(step: int, val_loss: float, val_bpb: float, best_loss: float, best_step: int) -> str:
    return (
        f"eval step {step} | val loss {val_loss:.4f} | val bpb {val_bpb:.4f} | best {best_loss:.4f} at step {best_step}"
    )


def plot_losses(metrics: list[dict], png: Path, title: str) -> None:
    """Training and validation loss against step, written to `png`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [m for m in metrics if m["kind"] == "train"]
    evals = [m for m in metrics if m["kind"] == "eval"]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.plot([m["step"] for m in train], [m["loss"] for m in train], label="train loss", linewidth=1)
    if evals:
        best = min(evals, key=lambda m: m["val_loss"])
        ax.plot(
            [m["step"] for m in evals],
            [m["val_loss"] for m in evals],
            "o-",
            markersize=3,
            label=f"validation loss (best {best['val_loss']:.3f}, {best['val_bpb']:.3f} bits/byte, "
            f"step {best['step']})",
        )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
