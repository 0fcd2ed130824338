"""What request_path.py asks of the ``cython`` module when Cython is not installed: it runs
uncompiled then (Cython is needed to build wsgid, not to run it)."""

compiled = False
