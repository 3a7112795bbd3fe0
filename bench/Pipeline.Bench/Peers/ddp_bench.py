"""PyTorch side of `Pipeline.Bench -- ddp`: one rank of the same data-parallel run as our `ddp-worker` (the small CNN,
batch 128 per process, SGD, Gloo on loopback, DistributedDataParallel with its defaults), so both engines' scaling
is measured on the same machine in the same rounds.

Usage: /usr/bin/python3 ddp_bench.py RANK WORLD PORT STEPS WARMUP   (the caller sets OMP_NUM_THREADS)
Prints one line: elapsed_ms=<x> cpu_ms=<y> (rank's training loop between two barriers, after WARMUP steps)
"""
import datetime
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

from engine_bench import SmallCnn

BATCH = 128


def main():
    rank, world, port, steps, warmup = (int(a) for a in sys.argv[1:6])
    torch.set_num_threads(1)
    torch.manual_seed(rank)
    net = SmallCnn()
    net.train()
    model = net
    if world > 1:
        store = dist.TCPStore("127.0.0.1", port, world, rank == 0, timeout=datetime.timedelta(minutes=2))
        dist.init_process_group("gloo", store=store, rank=rank, world_size=world)
        model = torch.nn.parallel.DistributedDataParallel(net)
    x = torch.randn(BATCH, 1, 28, 28)
    y = torch.randint(0, 10, (BATCH,))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(warmup):
        step()
    if world > 1:
        dist.barrier()
    cpu_start = time.process_time()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if world > 1:
        dist.barrier()
    elapsed = (time.perf_counter() - start) * 1000
    cpu = (time.process_time() - cpu_start) * 1000
    print(f"elapsed_ms={elapsed:.1f} cpu_ms={cpu:.1f}")
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
