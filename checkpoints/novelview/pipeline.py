"""Lets diffusers' DiffusionPipeline.from_pretrained find the class; needs `pip install lddbm`."""
from lddbm.pipeline import LDDBMPipeline  # noqa: F401
