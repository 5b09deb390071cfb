"""A model-free ComfyScript graph: a red 64×64 image, inverted, saved.

Build it with comfycine (nothing is queued while building); run alone with Python, it
queues the graph on the server ComfyScript finds.
"""

# ComfyScript scripts use star imports and load() between them.
# ruff: noqa: E402, F403, F405

from comfy_script.runtime import *

load()
from comfy_script.runtime.nodes import *

with Workflow():
    image = EmptyImage(64, 64, 1, 0xFF0000)
    image = ImageInvert(image)
    SaveImage(image, "comfycine/script")
