"""Views -> 3D: 1-12 photos of an object -> its 32^3 occupancy grid.

``build`` (networks, data), ``evaluation`` (shape metrics), ``prediction`` (a shape with its
uncertainty and the bridge trajectory, for the demo and ``sample``), ``hull`` (the visual hull given
the cameras: a reference), ``pose`` (the camera network trained alone), ``refiner`` (the silhouette refiner
trained on the pipeline's own predictions), ``robustness`` (uploads' corruptions, background removal), ``benchmarks``
(its commands ``bench-robustness`` and ``bench-segmentation``), ``cli``.
"""

from __future__ import annotations

from ..base import Option, Task
from .build import dataset, modalities
from .cli import COMMANDS, DATA_BUILDERS, EXAMPLE_BUILDERS
from .evaluation import evaluate
from .presets import PRESETS, MultiViewData

TASK = Task(
    "multiview3d", ("furniture", "shapenet"), MultiViewData, PRESETS, modalities, dataset, evaluate,
    eval_options=(
        Option("views", "views per object (multi-view tasks)", int),
        Option("samples", "K stochastic samples per object (with --churn or --eta): adds mean IoU per sample, best of "
               "K, the mean shape's IoU and the disagreement -> error AUROC", int),
        Option("view_order", "how the views are taken (a lifting encoder with azimuth classes): any, or turntable "
               "(round the object to the right, the first from the front; the built data's order). Default: the "
               "checkpoint's", str, ("any", "turntable")),
    ),
    aliases=("shapenet",), default_preset="multiview3d", commands=COMMANDS, data_builders=DATA_BUILDERS,
    example_builders=EXAMPLE_BUILDERS, selection_metric="iou",
)
