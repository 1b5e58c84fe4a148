"""Bytes on disk: written atomically, read back without pickle, never served stale.

:mod:`~linfit.storage.atomic` writes a file whole or not at all; :mod:`~linfit.storage.cache`
keeps parsed data files; :mod:`~linfit.storage.container` is the model-file format (named
sections, checksums, plain arrays) and its writer, :mod:`~linfit.storage.container_reader`
reads such a file back, checked; :mod:`~linfit.storage.persist` saves and loads a
``TrainedModel`` in it.
"""
