"""`torchrun ... -m vitdemo train`: two CPU ranks (gloo) train like one process with the whole batch.

The runs are real torchrun launches of the real command. `tests/ddp_probe/sitecustomize.py` rides along on
PYTHONPATH and records, per rank, the checkpoints it writes, the draws it trains on and its final weights,
and can press Ctrl-C; torchrun's --redirects keeps each rank's output in its own files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

from vitdemo import checkpoint
from vitdemo.__main__ import parser, train_options
from vitdemo.train import distributed
from vitdemo.train import loop as train

ROOT = Path(__file__).parent.parent
PROBE = Path(__file__).parent / "ddp_probe"
# tests/test_train.py's TINY model on shapes with the training-only silhouette head (an aid with parameters,
# which DDP must average too): 2 epochs of 3 steps of 8 images, 4 per rank. No --token-loss: its mean over
# each slice's object patches is the one thing that differs from one process by more than rounding.
ARGS = ["--data", "shapes", "--image-size", "32", "--patch-size", "8", "--patch-sizes", "8,16", "--dim", "32",
        "--depth", "1", "--heads", "2", "--mlp-ratio", "2", "--batch-size", "8", "--lr", "3e-3", "--warmup", "2",
        "--workers", "0", "--val-samples", "16", "--precision", "fp32", "--label-smoothing", "0", "--epochs", "2",
        "--steps-per-epoch", "3", "--silhouette-loss", "1", "--silhouette-steps", "2"]
TOTAL_STEPS = 6


class Run(NamedTuple):
    returncode: int
    agent: str  # torchrun's own output
    stdout: list[str]  # per rank
    stderr: list[str]
    probe: Path

    def saves(self, rank: int) -> list[str]:
        path = self.probe / f"saves-{rank}.txt"
        return path.read_text().splitlines() if path.exists() else []

    def draws(self, rank: int) -> list[list[int]]:
        return json.loads((self.probe / f"draws-{rank}.json").read_text())

    def weights(self, rank: int) -> dict[str, dict[str, torch.Tensor]]:
        return torch.load(self.probe / f"weights-{rank}.pt", weights_only=True)


def torchrun(tmp: Path, name: str, out: Path, *extra: str, interrupt_at: int = 0) -> Run:
    probe, logs = tmp / f"probe-{name}", tmp / f"logs-{name}"
    probe.mkdir()
    env = {**os.environ, "VITDEMO_PROBE": str(probe), "VITDEMO_PROBE_INTERRUPT_AT": str(interrupt_at),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROBE), str(ROOT), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "--log-dir", str(logs), "--redirects", "3", "-m", "vitdemo", "train", *ARGS, "--out", str(out), *extra]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    text = [[next(logs.glob(f"*/attempt_0/{rank}/{stream}.log")).read_text() for rank in (0, 1)]
            for stream in ("stdout", "stderr")]
    return Run(done.returncode, done.stdout + done.stderr, text[0], text[1], probe)


def one_process(out: Path) -> train.TrainResult:
    argv = ["train", *ARGS, "--out", str(out)]
    return train.train(train_options(parser().parse_args(argv), argv))


def assert_same_model(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], **tolerance: float) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], msg=name, **tolerance)


class Runs(NamedTuple):
    stopped: Run  # Ctrl-C after step 2 of 6, mid-epoch
    resumed: Run  # --resume to the end
    out: Path


SLOW = pytest.mark.slow  # the tests that read `runs`: it starts two torchrun jobs of 2 ranks each


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    tmp = tmp_path_factory.mktemp("ddp")
    stopped = torchrun(tmp, "stopped", tmp / "run", interrupt_at=2)
    resumed = torchrun(tmp, "resumed", tmp / "run", "--resume")
    return Runs(stopped, resumed, tmp / "run")


@SLOW
def test_ctrl_c_stops_every_rank_after_the_same_step_and_rank_0_saves_it(runs: Runs) -> None:
    run = runs.stopped
    assert run.returncode != 0
    assert f"interrupted: checkpoint at step 2 in {runs.out}" in run.stderr[0], run.agent[-2000:] + run.stderr[0]
    assert len(run.saves(0)) == 1 and run.saves(1) == []


@SLOW
def test_resume_continues_to_the_end(runs: Runs) -> None:
    run = runs.resumed
    assert run.returncode == 0, run.agent[-2000:] + run.stderr[0] + run.stderr[1]
    assert train.load_train_state(runs.out)["step"] == TOTAL_STEPS
    meta = checkpoint.read_meta(runs.out)["training"]
    assert meta["world_size"] == 2 and [row["step"] for row in meta["history"]] == [3, 6]
    assert checkpoint.load_vitdemo_dir(runs.out).labels[:4] == ["circle", "square", "triangle", "star"]


@SLOW
def test_rank_0_alone_logs_and_writes_checkpoints(runs: Runs) -> None:
    for run in (runs.stopped, runs.resumed):
        assert run.stderr[0].splitlines()[0].startswith("world size 2"), run.stderr[0][:300]
        assert run.stdout[1] == "" and "epoch" not in run.stderr[1] and "world size" not in run.stderr[1]
        assert run.saves(1) == []
    resumed = runs.resumed
    assert "epoch 2/2" in resumed.stderr[0] and resumed.stdout[0].startswith(f"saved {runs.out} after 6 steps")
    assert len(resumed.saves(0)) == 2  # at the end of each epoch


@SLOW
def test_each_rank_trains_on_its_half_of_every_batch(runs: Runs) -> None:
    # epoch e of one process draws images 24e .. 24e+23 in batches of 8; rank 0 takes the first 4 of each
    # batch, rank 1 the last 4
    def half(rank: int, draws: range) -> list[int]:
        return [d for d in draws if (d % 8 < 4) == (rank == 0)]

    for rank in (0, 1):
        assert runs.stopped.draws(rank) == [half(rank, range(0, 24))]
        # resumed after 2 steps: the rest of epoch 1 (its third batch, draws 16-23), then epoch 2
        assert runs.resumed.draws(rank) == [half(rank, range(16, 24)), half(rank, range(24, 48))]


@SLOW
def test_gradients_are_averaged_so_ranks_stay_identical(runs: Runs) -> None:
    rank0, rank1 = runs.resumed.weights(0), runs.resumed.weights(1)
    # each rank's optimizer stepped on its own: identical weights mean identical (averaged) gradients
    assert_same_model(rank1["model"], checkpoint.load_vitdemo_dir(runs.out).state_dict(), rtol=0, atol=0)
    assert_same_model(rank0["model"], rank1["model"], rtol=0, atol=0)
    assert_same_model(rank1["silhouette"], train.load_train_state(runs.out)["silhouette_head"], rtol=0, atol=0)


@SLOW
def test_two_ranks_train_like_one_process_with_the_whole_batch(runs: Runs, tmp_path: Path,
                                                               capfd: pytest.CaptureFixture[str]) -> None:
    """The average of the two half-batch gradients is the whole batch's gradient, and a resume continues
    exactly: the weights after 6 steps (2 + 4 resumed) match one process's straight run up to rounding. Had
    each rank kept its own half's gradient, or both trained on the same half, they would differ by ~1e-2
    (measured), far outside the tolerance."""
    single = one_process(tmp_path / "single")
    assert "world size" not in capfd.readouterr().err  # without torchrun: one process, as before
    ddp, one = checkpoint.load_vitdemo_dir(runs.out).state_dict(), single.model.state_dict()
    d = ddp["blocks.0.attn.qkv.bias"].numel() // 3
    for name in one:
        a, b = ddp[name], one[name]
        if name == "blocks.0.attn.qkv.bias":
            # the key bias adds the same amount to every attention score of a query, which softmax ignores:
            # its true gradient is 0, so it holds rounding noise that Adam scales up to learning-rate steps
            a, b = torch.cat([a[:d], a[2 * d:]]), torch.cat([b[:d], b[2 * d:]])
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5, msg=name)
    torch.testing.assert_close(runs.resumed.weights(0)["silhouette"]["linear.weight"],
                               train.load_train_state(tmp_path / "single")["silhouette_head"]["linear.weight"],
                               rtol=0, atol=1e-5)


def test_shard_draws_splits_every_batch_into_disjoint_equal_slices() -> None:
    draws = [5, 3, 9, 0, 1, 7, 2, 8, 4, 6, 11, 10, 13]  # a folder epoch's shuffled order: 2 batches of 6 + 1
    assert distributed.shard_draws(draws, 6, 0, 3) == [5, 3, 2, 8]
    assert distributed.shard_draws(draws, 6, 1, 3) == [9, 0, 4, 6]
    assert distributed.shard_draws(draws, 6, 2, 3) == [1, 7, 11, 10]
    assert distributed.shard_draws(draws, 6, 0, 1) == draws[:12]  # one process: the loader's drop_last
    with pytest.raises(ValueError, match="split"):
        distributed.shard_draws(draws, 6, 0, 4)


def test_without_torchrun_there_is_no_process_group() -> None:
    ctx, device = distributed.setup(torch.device("cpu"), batch_size=7, env={})
    assert not ctx.enabled and ctx.is_main and ctx.world_size == 1 and device == torch.device("cpu")
    assert not torch.distributed.is_initialized()
    launch = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "localhost", "MASTER_PORT": "1"}
    with pytest.raises(ValueError, match="world size 2"):  # every rank refuses before joining a group
        distributed.setup(torch.device("cpu"), batch_size=7, env=launch)
