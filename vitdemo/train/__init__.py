"""Training: the loop (`python -m vitdemo train`), its data sources, the training-only aids, and evaluation.

    from vitdemo.train import TrainOptions, train
    train(TrainOptions(data="shapes", out="runs/shapes"))
"""

from .loop import TrainOptions, TrainResult, train

__all__ = ["TrainOptions", "TrainResult", "train"]
