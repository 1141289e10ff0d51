"""The executors shipped with damoc; importing this module registers them (``EXECUTORS`` loads it).

Not imported by ``damoc.executors`` itself: the executors run :mod:`damoc.jobs`, which imports
``damoc.executors.base``, so registering them when the package is imported made an import cycle
(``import damoc.jobs`` as a program's first damoc import failed).
"""

from damoc.executors import local, ray

__all__ = ["local", "ray"]
