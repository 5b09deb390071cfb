"""comfycine: drive ComfyUI from a terminal or an AI agent, for film work."""

__version__ = "0.1.0"
