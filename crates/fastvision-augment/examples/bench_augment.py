"""fastai's side of `cargo xtask bench augment`: aug_transforms(size=224, min_scale=0.75) on the same batch.

usage: bench_augment.py BATCH.u8 N C H W [--threads 2] [--reps 5]
Reads the raw u8 batch the Rust example wrote, converts it as fastai's IntToFloatTensor does (float / 255), runs
Pipeline(aug_transforms(size=224, min_scale=0.75), split_idx=0) on the CPU once to warm up, then `reps` times, and
prints one JSON line: {"ms_per_batch_median", "ms_per_batch_min", "images_per_s", "torch_threads", versions}.
"""
import argparse, json, time

import numpy as np
import torch
import fastai
from fastai.vision.all import Pipeline, TensorImage, aug_transforms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('batch'); ap.add_argument('n', type=int); ap.add_argument('c', type=int)
    ap.add_argument('h', type=int); ap.add_argument('w', type=int)
    ap.add_argument('--threads', type=int, default=2); ap.add_argument('--reps', type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    raw = np.fromfile(a.batch, dtype=np.uint8).reshape(a.n, a.c, a.h, a.w)
    xb = TensorImage(torch.from_numpy(raw).float() / 255)
    pipe = Pipeline(aug_transforms(size=224, min_scale=0.75), split_idx=0)
    out = pipe(xb)
    times = []
    for _ in range(a.reps):
        t0 = time.perf_counter(); out = pipe(xb); times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    print(json.dumps(dict(ms_per_batch_median=med * 1000, ms_per_batch_min=times[0] * 1000,
                          images_per_s=a.n / med, torch_threads=torch.get_num_threads(),
                          out_shape=list(out.shape), fastai=fastai.__version__, torch=torch.__version__)))


if __name__ == '__main__':
    main()
