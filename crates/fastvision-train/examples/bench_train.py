"""PyTorch/fastai side of `cargo xtask bench train`: one training step (forward + backward + fastai Adam step) of
fastai's vision model (create_vision_model, pretrained=False, 37 classes) on random normalised images.

Usage: bench_train.py ARCH SIZE BATCH STEPS THREADS
Prints one JSON line: {"img_per_s", "step_s", "peak_rss_mb", "torch", "fastai", "threads"}.
"""
import json
import resource
import sys
import time

import torch
import fastai
from fastai.vision.all import Adam, CrossEntropyLossFlat, create_vision_model, params, resnet18, resnet34


def main():
    arch, size, bs, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = create_vision_model({"resnet18": resnet18, "resnet34": resnet34}[arch], n_out=37, pretrained=False)
    model.train()
    opt = Adam(params(model), lr=1e-3)
    loss_func = CrossEntropyLossFlat()
    x = torch.randn(bs, 3, size, size)
    y = torch.randint(0, 37, (bs,))

    def step():
        loss = loss_func(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return float(loss)

    step()  # warm-up: allocations, kernel selection
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]
    print(json.dumps({
        "img_per_s": bs / median,
        "step_s": times,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch": torch.__version__,
        "fastai": fastai.__version__,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
