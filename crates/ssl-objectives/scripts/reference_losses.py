"""Reference formulas of every loss, transcribed from the official code (see make_fixtures.py),
shared by the fixture generator and the PyTorch side of the benchmark."""
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20261122)


def views(k, b, d):
    return torch.tensor(rng.standard_normal((k, b, d)), dtype=torch.float64, requires_grad=True)


def simclr(z, tau):  # solo-learn: z is (k*B, d) with indexes
    k, b, d = z.shape
    flat = F.normalize(z.reshape(k * b, d), dim=-1)
    idx = torch.arange(b).repeat(k)
    sim = torch.exp(flat @ flat.T / tau)
    pos = (idx[:, None] == idx[None, :]).to(z.dtype)
    pos.fill_diagonal_(0)
    neg = (idx[:, None] != idx[None, :]).to(z.dtype)
    return -torch.mean(torch.log((sim * pos).sum(1) / ((sim * pos).sum(1) + (sim * neg).sum(1))))


def info_nce(a, p, tau):  # facebookresearch/directclr
    a = F.normalize(a, dim=1)
    p = F.normalize(p, dim=1)
    logits = a @ p.T / tau
    return F.cross_entropy(logits, torch.arange(a.shape[0]))


def directclr(z, d0, tau):
    r1, r2 = z[0], z[1]
    return info_nce(r1[:, :d0], r2[:, :d0], tau) / 2 + info_nce(r2[:, :d0], r1[:, :d0], tau) / 2


def barlow(z, lam):
    bn = torch.nn.BatchNorm1d(z.shape[2], affine=False).to(z.dtype)
    c = bn(z[0]).T @ bn(z[1]) / z.shape[1]
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = (c - torch.diag(torch.diagonal(c))).pow(2).sum()
    return on + lam * off


def vicreg(z, sim=25.0, std=25.0, cov=1.0):
    x, y = z[0], z[1]
    n, d = x.shape
    repr_loss = F.mse_loss(x, y)
    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0) + 0.0001)
    std_y = torch.sqrt(y.var(dim=0) + 0.0001)
    std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
    cov_x = (x.T @ x) / (n - 1)
    cov_y = (y.T @ y) / (n - 1)
    off = lambda m: (m - torch.diag(torch.diagonal(m))).pow(2).sum()
    cov_loss = off(cov_x) / d + off(cov_y) / d
    return sim * repr_loss + std * std_loss + cov * cov_loss


def mmcr(z, lmbda):  # ThomasYerxa/mmcr loss_mmcr.py, z as (B, C, N) after normalising
    k, b, d = z.shape
    zn = F.normalize(z, dim=-1)
    z_local = zn.permute(1, 2, 0)  # B, d, k
    centroids = z_local.mean(dim=-1)
    local_nuc = torch.linalg.svd(z_local, full_matrices=False)[1].sum()
    global_nuc = torch.linalg.svd(centroids, full_matrices=False)[1].sum()
    return lmbda * local_nuc / b - global_nuc


def byol(p, t):  # solo-learn: sum over ordered pairs of 2 - 2 cos mean
    k = p.shape[0]
    total = 0
    for i in range(k):
        for j in range(k):
            if i != j:
                total = total + 2 - 2 * F.cosine_similarity(p[i], t[j].detach(), dim=-1).mean()
    return total


def simsiam(p, t):
    k = p.shape[0]
    total = 0
    for i in range(k):
        for j in range(k):
            if i != j:
                total = total - F.cosine_similarity(p[i], t[j].detach(), dim=-1).mean()
    return total / (k * (k - 1))


def margin(z, m):  # Hadsell: B positive pairs (v1_b, v2_b) and B negative pairs (v1_b, v2_{b+1})
    v1, v2 = z[0], z[1]
    x1 = torch.cat([v1, v1])
    x2 = torch.cat([v2, torch.roll(v2, -1, 0)])
    y = torch.cat([torch.zeros(v1.shape[0], dtype=z.dtype), torch.ones(v1.shape[0], dtype=z.dtype)])
    dist = torch.norm(x1 - x2, dim=1)
    return ((1 - y) * 0.5 * dist**2 + y * 0.5 * torch.clamp(m - dist, min=0) ** 2).mean()


