import brickwork as bw
import brickwork.distributed as dist
from brickwork import nn
from brickwork.data import DataLoader, DistributedSampler
from brickwork.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")                   # "nccl" when every rank has its own GPU
rank, world = dist.get_rank(), dist.get_world_size()
device = bw.device("cpu")                        # GPUs: bw.device("cuda", dist.get_node_local_rank())

train_set = bw.data.datasets.Digits(train=True)
sampler = DistributedSampler(train_set, seed=0)  # this rank's shard; every image once per epoch
loader = DataLoader(train_set, batch_size=32, sampler=sampler)
net = nn.Sequential(nn.Flatten(), nn.LazyLinear(64), nn.ReLU(), nn.LazyLinear(10)).to(device)
model = DDP(net)                                 # rank 0's weights everywhere (lazy ones: at step 1)
optimizer = bw.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

for epoch in range(3):
    sampler.set_epoch(epoch)                     # a new order each epoch, the same on all ranks
    for X, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(X.to(device)), y.to(device))
        loss.backward()                          # gradients averaged over all ranks, in buckets
        optimizer.step()
    dist.all_reduce(loss, op=dist.ReduceOp.AVG)  # the last batch's loss, averaged over ranks
    if rank == 0:
        print(f"epoch {epoch}: loss {loss.item():.3f}")
        bw.save(net.state_dict(), "digits_mlp.safetensors")  # atomic; loads into a plain model
    dist.barrier()                               # the file is complete before anyone reads it
dist.destroy_process_group()
