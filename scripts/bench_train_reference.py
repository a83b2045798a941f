#!/usr/bin/env python3
"""PyTorch-eager baseline for `dstc bench train`: one DPO optimizer step on a random Llama.

The same work as trainer::bench_dpo_step, written the way TRL's DPOTrainer does it in plain
PyTorch: policy forward on chosen and rejected concatenated into one batch, full logits,
log-softmax and gather over the completion mask, reference forward under no_grad, the
sigmoid DPO loss, backward, AdamW. A Llama in the style of transformers' modeling_llama.py
(eager attention, RMSNorm, rotate-half RoPE, SwiGLU). Prints one JSON line per shape:
{"size", "params", "threads", "step_s", "step_median_s"}.

Usage: bench_train_reference.py [--shape T1-1M] [--steps 5] [--threads 1]
Needs Debian's python3-torch (1.13); run it with /usr/bin/python3.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {
    # name: (vocab, hidden, layers, heads, intermediate)
    "T1-1M": (2048, 128, 4, 4, 344),
    "T2-9M": (8192, 256, 6, 8, 688),
}


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        v = x.float().pow(2).mean(-1, keepdim=True)
        return self.weight * (x.float() * torch.rsqrt(v + self.eps)).to(x.dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Layer(nn.Module):
    def __init__(self, hidden, heads, inter):
        super().__init__()
        self.heads, self.hd = heads, hidden // heads
        self.q_proj = nn.Linear(hidden, hidden, bias=False)
        self.k_proj = nn.Linear(hidden, hidden, bias=False)
        self.v_proj = nn.Linear(hidden, hidden, bias=False)
        self.o_proj = nn.Linear(hidden, hidden, bias=False)
        self.gate_proj = nn.Linear(hidden, inter, bias=False)
        self.up_proj = nn.Linear(hidden, inter, bias=False)
        self.down_proj = nn.Linear(inter, hidden, bias=False)
        self.n1, self.n2 = RMSNorm(hidden), RMSNorm(hidden)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        h = self.n1(x)
        q = self.q_proj(h).view(B, T, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(B, T, self.heads, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(B, T, self.heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.o_proj(y)
        h = self.n2(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(nn.Module):
    def __init__(self, vocab, hidden, layers, heads, inter):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.layers = nn.ModuleList(Layer(hidden, heads, inter) for _ in range(layers))
        self.norm = RMSNorm(hidden)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)
        self.hd = hidden // heads
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids):
        T = ids.shape[1]
        inv = 1.0 / (10000.0 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        f = torch.outer(torch.arange(T).float(), inv)
        emb = torch.cat((f, f), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def seq_logps(model, ids, loss_mask):
    logits = model(ids)[:, :-1]
    labels = ids[:, 1:]
    lp = logits.log_softmax(-1).gather(2, labels.unsqueeze(2)).squeeze(2)
    return (lp * loss_mask[:, 1:]).sum(-1)


def bench(name, steps, threads, batch=8, seq=128, beta=0.1):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    vocab, hidden, layers, heads, inter = SHAPES[name]
    policy = Llama(vocab, hidden, layers, heads, inter)
    reference = Llama(vocab, hidden, layers, heads, inter)
    reference.load_state_dict(policy.state_dict())
    reference.eval()
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-6, weight_decay=0.0)
    prompt = torch.randint(0, vocab, (batch, seq // 2))
    chosen = torch.cat((prompt, torch.randint(0, vocab, (batch, seq // 2))), 1)
    rejected = torch.cat((prompt, torch.randint(0, vocab, (batch, seq // 2))), 1)
    ids = torch.cat((chosen, rejected), 0)
    mask = torch.zeros_like(ids, dtype=torch.float32)
    mask[:, seq // 2:] = 1.0

    def step():
        with torch.no_grad():
            ref = seq_logps(reference, ids, mask)
        pol = seq_logps(policy, ids, mask)
        h = (pol[:batch] - ref[:batch]) - (pol[batch:] - ref[batch:])
        loss = F.softplus(-beta * h).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    params = sum(p.numel() for p in policy.parameters())
    return {"size": name, "params": params, "threads": threads, "step_s": times,
            "step_median_s": statistics.median(times)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", action="append", choices=sorted(SHAPES))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    for name in args.shape or sorted(SHAPES):
        print(json.dumps(bench(name, args.steps, args.threads)), flush=True)


if __name__ == "__main__":
    main()
