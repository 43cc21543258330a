"""PyTorch side of `cargo xtask bench loss`: F.cross_entropy + backward on the logits the Rust example wrote.

Usage: bench_loss.py SAMPLES (SHAPE N C LOGITS_F32 TARGETS_I64)...   Prints {"us": {SHAPE: median_us}, ...}.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F

MIN_SAMPLE_SECS = 0.01


def load(path, dtype, shape):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    return torch.frombuffer(data, dtype=dtype).reshape(shape).clone()


def step(x, t):
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(x, t)
    loss.backward()
    return float(loss) + x.grad.shape[0]


def time_us(x, t, samples):
    start = time.perf_counter()
    for _ in range(3):
        step(x, t)
    per_call = (time.perf_counter() - start) / 3
    iterations = max(1, int(-(-MIN_SAMPLE_SECS // per_call)))
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(iterations):
            step(x, t)
        times.append((time.perf_counter() - start) * 1e6 / iterations)
    return sorted(times)[samples // 2]


def main():
    samples = int(sys.argv[1])
    args = sys.argv[2:]
    out = {"us": {}, "torch": torch.__version__, "threads": torch.get_num_threads()}
    for i in range(0, len(args), 5):
        shape, n, c, logits_path, targets_path = args[i:i + 5]
        x = load(logits_path, torch.float32, (int(n), int(c)))
        t = load(targets_path, torch.int64, (int(n),))
        out["us"][shape] = time_us(x, t, samples)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
