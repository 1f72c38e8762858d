"""Test-session settings: one torch thread.

The test models are tiny (C ≤ 32, T ≤ 16); at that size a second intra-op thread only adds
synchronisation, and on a shared 2-core machine it made small products several times slower.
"""
import torch

torch.set_num_threads(1)
