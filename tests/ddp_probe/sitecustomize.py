"""A probe for tests/test_distributed.py: records what each torchrun rank does, without changing it.

Python imports `sitecustomize` at start-up from the first folder on its path that has one, so every process
the test starts with this folder on PYTHONPATH runs this file. It acts only in a torchrun worker (RANK set)
and only when VITDEMO_PROBE names a folder, where it writes, per rank R:

* `saves-R.txt`: a line per checkpoint the rank writes (any call of `vitdemo.checkpoint.save`);
* `draws-R.json`: the draw numbers the rank trains on, per epoch (what `distributed.shard_draws` gave it);
* `weights-R.pt`: the rank's model and silhouette head when training returns.

With VITDEMO_PROBE_INTERRUPT_AT=k, rank 1 presses Ctrl-C after its k-th step the way a terminal does: SIGINT
to its parent, the torchrun agent, which passes it on to every rank. Rank 1 then waits until the signal has
reached it, so that the run stops after step k on every rank, whatever the machine's load.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path


def _install(folder: Path, rank: int) -> None:
    import torch

    import vitdemo.checkpoint
    from vitdemo.train import distributed, loop

    real_save, real_shard = vitdemo.checkpoint.save, distributed.shard_draws
    real_run, real_step = loop._Loop.run, loop._Loop.train_step
    draws: list[list[int]] = []
    steps = [0]
    interrupt_at = int(os.environ.get("VITDEMO_PROBE_INTERRUPT_AT", "0"))

    def save(model, out, *args, **kwargs):
        with open(folder / f"saves-{rank}.txt", "a") as f:
            f.write(f"{out}\n")
        return real_save(model, out, *args, **kwargs)

    def shard_draws(*args, **kwargs):
        mine = real_shard(*args, **kwargs)
        draws.append(list(mine))
        (folder / f"draws-{rank}.json").write_text(json.dumps(draws))
        return mine

    def run(self):
        result = real_run(self)
        torch.save({"model": self.model.state_dict(),
                    "silhouette": self.silhouette.state_dict() if self.silhouette else {}},
                   folder / f"weights-{rank}.pt")
        return result

    def train_step(self, *args):
        out = real_step(self, *args)
        steps[0] += 1
        if rank == 1 and steps[0] == interrupt_at:
            os.kill(os.getppid(), signal.SIGINT)
            deadline = time.time() + 60
            while not self.interrupts.requested and time.time() < deadline:
                time.sleep(0.02)
        return out

    vitdemo.checkpoint.save, distributed.shard_draws = save, shard_draws
    loop._Loop.run, loop._Loop.train_step = run, train_step


if os.environ.get("VITDEMO_PROBE") and "RANK" in os.environ:
    _install(Path(os.environ["VITDEMO_PROBE"]), int(os.environ["RANK"]))
