import argparse

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=5)
args = parser.parse_args()

torch.manual_seed(0)
X = torch.randn(512, 2)
y = (X[:, 0] * X[:, 1] > 0).long()              # do the two signs agree?
loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
net = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.Adam(net.parameters(), lr=0.01)
for epoch in range(args.epochs):
    for xb, yb in loader:
        loss = F.cross_entropy(net(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
with torch.no_grad():
    accuracy = (net(X).argmax(1) == y).float().mean().item()
print(type(X), X.shape, X.dtype, nn.Linear.__module__)
print(f"{args.epochs} epochs, training accuracy above 0.9: {accuracy > 0.9}")
