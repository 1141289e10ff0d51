"""Task handling: reading user and bundled data, record formats, prompts, tokenisation, task checks.

Modules: ``load`` (splits, bundled tasks, :class:`Example` files), ``formats`` (record shapes and
answer parsing), ``prompts`` (templates), ``tokens`` (prompt/answer token boundary shared by training
and evaluation), ``check`` (``damoc tasks check``), ``dev`` (a dev split of whole clusters carved from
train). Importing this package imports none of them.
"""
