"""Data-parallel training across processes started by torchrun (torch.distributed, gloo or NCCL).

Every rank holds the whole model and takes every world-th batch of the epoch's order; gradients are
averaged before each step, so all ranks step to the same parameters. Only rank 0 writes files and
validates. Gradients are reduced by hand rather than through DistributedDataParallel because the
model changes its modules when QAT starts (calibration, BN folding): there is no wrapper to rebuild.

    torchrun --nproc_per_node 2 -m codenet.host.cli train --config codenet-s --out runs/s
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from codenet.host.errors import CodenetError


class World:
    """This process's place among the training processes: one process alone unless torchrun set it up."""

    def __init__(self):
        self.size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if self.size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """One GPU a process where there are GPUs."""
        if device.type != "cuda" or self.size == 1:
            return device
        torch.cuda.set_device(self.local_rank)
        return torch.device("cuda", self.local_rank)

    def share(self, batches: list) -> list:
        """This rank's batches of an epoch: every size-th, the same count on every rank (no rank waits)."""
        keep = len(batches) // self.size * self.size
        if keep == 0:
            raise CodenetError(f"{len(batches)} batches an epoch cannot be shared by {self.size} processes")
        return batches[self.rank:keep:self.size]

    def average_gradients(self, model: torch.nn.Module) -> None:
        if self.size == 1:
            return
        for p in model.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= self.size

    def broadcast_state(self, model: torch.nn.Module) -> None:
        """Rank 0's parameters and buffers everywhere: BN statistics differ per rank in float training,
        and QAT folds them into the integers, so every rank must fold the same ones."""
        if self.size == 1:
            return
        for t in model.state_dict().values():
            dist.broadcast(t, 0)

    def check_in_sync(self, model: torch.nn.Module) -> None:
        """Every rank has the same parameters: a cheap fingerprint compared across ranks."""
        if self.size == 1:
            return
        with torch.no_grad():
            mine = torch.stack([torch.stack([p.double().sum(), p.double().abs().sum()]) for p in model.parameters()])
        prints = [torch.empty_like(mine) for _ in range(self.size)]
        dist.all_gather(prints, mine)
        if any(not torch.equal(prints[0], other) for other in prints[1:]):
            raise CodenetError("the training processes' parameters diverged")

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def close(self) -> None:
        if self.size > 1 and dist.is_initialized():
            dist.destroy_process_group()
