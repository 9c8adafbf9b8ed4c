#!/usr/bin/python3
"""PyTorch eager reference for bench/encoders_model_bench.cpp.

Builds a ViT-B/32-sized CLIP (vision 224/32, width 768, 12 layers, 12 heads; text width 512,
12 layers, 8 heads, context 77, vocab 49408; embed 512) from plain nn.Module code with random
weights, and prints images/s and texts/s at batch 1 and 16 on 2 threads (LOOKBOOK_BENCH_THREADS
overrides the count, as for the C++ bench), then with torch on 1 thread and the matrix products
in OpenBLAS's own pool (lookbook's configure_cpu_threads plan).

Run with Debian's interpreter: /usr/bin/python3 bench/encoders_model_reference.py
"""

import os
import time

import torch
from torch import nn


class QuickGelu(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    """Pre-LN residual block, batch first, one fused q/k/v projection."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(width)
        self.in_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), QuickGelu(), nn.Linear(4 * width, width))

    def attention(self, x, mask):
        batch, length, width = x.shape
        head_dim = width // self.heads
        qkv = self.in_proj(x).view(batch, length, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * head_dim**-0.5, qkv[1], qkv[2]
        scores = q @ k.transpose(-2, -1)
        if mask is not None:
            scores = scores + mask
        out = scores.softmax(-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, width))

    def forward(self, x, mask=None):
        x = x + self.attention(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Clip(nn.Module):
    def __init__(self):
        super().__init__()
        vw, tw, embed = 768, 512, 512
        grid = 224 // 32
        self.conv1 = nn.Conv2d(3, vw, 32, 32, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(vw) * 0.02)
        self.visual_pos = nn.Parameter(torch.randn(grid * grid + 1, vw) * 0.02)
        self.ln_pre = nn.LayerNorm(vw)
        self.visual_blocks = nn.ModuleList(Block(vw, 12) for _ in range(12))
        self.ln_post = nn.LayerNorm(vw)
        self.visual_proj = nn.Parameter(torch.randn(vw, embed) * 0.02)
        self.token_embedding = nn.Embedding(49408, tw)
        self.text_pos = nn.Parameter(torch.randn(77, tw) * 0.01)
        self.text_blocks = nn.ModuleList(Block(tw, 8) for _ in range(12))
        self.ln_final = nn.LayerNorm(tw)
        self.text_projection = nn.Parameter(torch.randn(tw, embed) * 0.02)
        self.register_buffer("mask", torch.full((77, 77), float("-inf")).triu(1))

    def encode_image(self, pixels):
        x = self.conv1(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding.view(1, 1, -1).expand(x.shape[0], 1, -1)
        x = self.ln_pre(torch.cat([cls, x], 1) + self.visual_pos)
        for block in self.visual_blocks:
            x = block(x)
        return self.ln_post(x[:, 0]) @ self.visual_proj

    def encode_text(self, ids):
        x = self.token_embedding(ids) + self.text_pos[: ids.shape[1]]
        for block in self.text_blocks:
            x = block(x, self.mask)
        x = self.ln_final(x[torch.arange(ids.shape[0]), ids.argmax(-1)])
        return x @ self.text_projection


def rate(fn, batch, min_seconds=1.0):
    """Items per second of fn() over at least min_seconds, after one warm-up call."""
    fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls * batch / elapsed, elapsed / calls


def main():
    threads = int(os.environ.get("LOOKBOOK_BENCH_THREADS", "2"))
    torch.manual_seed(42)
    model = Clip().eval()
    for p in model.parameters():
        if p.dim() >= 2:
            nn.init.normal_(p, 0.0, 0.02)
    # torch.set_num_threads(threads) as asked; then torch on 1 thread, which leaves the matrix
    # products to OpenBLAS's own pool (as many threads as cores here), as lookbook's
    # configure_cpu_threads does.
    for torch_threads, label in ((threads, f"torch threads {threads}"), (1, "torch 1 + OpenBLAS pool")):
        torch.set_num_threads(torch_threads)
        print(f"== {label} (torch {torch.__version__})")
        with torch.inference_mode():
            for batch in (1, 16):
                pixels = torch.randn(batch, 3, 224, 224)
                per_s, per_call = rate(lambda: model.encode_image(pixels), batch)
                print(f"encode_image batch {batch:2d}: {per_s:8.2f} images/s ({per_call * 1e3:.1f} ms/batch)")
            for batch in (1, 16):
                ids = torch.zeros(batch, 77, dtype=torch.long)
                ids[:, 0] = 49406
                ids[:, 1:12] = torch.randint(1, 49000, (batch, 11))
                ids[:, 12] = 49407
                per_s, per_call = rate(lambda: model.encode_text(ids), batch)
                print(f"encode_text  batch {batch:2d}: {per_s:8.2f} texts/s ({per_call * 1e3:.1f} ms/batch)")


if __name__ == "__main__":
    main()
