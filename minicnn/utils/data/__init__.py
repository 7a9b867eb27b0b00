"""minicnn.utils.data, shaped like torch.utils.data: datasets, samplers, collate, DataLoader.

>>> import numpy as np
>>> from minicnn.utils.data import DataLoader, TensorDataset, random_split
>>> ds = TensorDataset(np.random.rand(100, 1, 8, 8).astype(np.float32), np.arange(100) % 10)
>>> train, val = random_split(ds, [0.8, 0.2])
>>> loader = DataLoader(train, batch_size=32, shuffle=True, num_workers=0)
>>> len(loader)
3
"""
from minicnn.utils.data._worker import WorkerInfo, get_worker_info
from minicnn.utils.data.collate import default_collate, default_convert
from minicnn.utils.data.dataloader import DataLoader
from minicnn.utils.data.dataset import (ConcatDataset, Dataset, IterableDataset, Subset,
                                        TensorDataset, random_split)
from minicnn.utils.data.distributed import DistributedSampler
from minicnn.utils.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                        SubsetRandomSampler, WeightedRandomSampler)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DistributedSampler",
           "default_collate", "default_convert", "DataLoader", "get_worker_info", "WorkerInfo"]
