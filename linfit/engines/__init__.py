"""Engines that run linfit's objectives somewhere other than one process's memory.

``linfit.engines.dask_*`` (the ``dask`` extra) spread the rows over a dask.distributed
cluster: the data are read and kept there, each block's loss and gradient are computed
where the block lives, and only parameters and gradients cross the network. Nothing here
is imported by ``linfit`` itself, so the extra stays optional.
"""
