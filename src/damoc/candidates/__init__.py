"""Candidate models: resolving an alias, folder, GGUF file or hub id to a loadable checkpoint.

Modules: ``resolve`` (candidate resolution, safe loading, device and dtype), ``bundled`` (the bundled
GGUF catalogue and its one-time conversion to safetensors). Importing this package imports neither.
"""
