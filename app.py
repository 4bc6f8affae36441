"""LDDBM web demo (Gradio). UI only: every model computation lives in lddbm/.

Run ``python app.py`` and open http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are
respected). Pipelines load once, offline, from checkpoints/; CUDA is used when present.

The demo is the package app/ beside this file (which Python imports as ``app``): app/common.py holds what
the tabs share, app/tabs/ one module per tab (a new tab is one new file there).

The API (gradio_client) is one endpoint per task, a contract checked by tests/test_app_api.py:
/views_to_3d, /new_view, /orbit, /super_resolve, /sketch_to_printed, /printed_to_handwritten and /translate_vector;
every other event is private (api_visibility).
Sampler controls are built from lddbm.samplers (SAMPLERS, OPTIONS): each tab has one "randomness"
slider, set as the chosen sampler's stochastic option, and guidance only applies where it is read.
"""

import logging

from app import build_demo, preload, serve

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    preload()
    serve(build_demo())
