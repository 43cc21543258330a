"""PyTorch/fastai side of `cargo xtask bench train`.

Step mode: one training step (forward + backward + fastai Adam step) of fastai's vision model
(create_vision_model, pretrained=False, 37 classes) on random normalised images.
    bench_train.py ARCH SIZE BATCH STEPS THREADS
    prints one JSON line: {"img_per_s", "step_s", "peak_rss_mb", "torch", "fastai", "threads"}.

Epoch mode: one whole epoch of fastai's fine_tune unfrozen phase on a folder of pet photos: the fastbook DataBlock
(regex labeller on the name, RandomSplitter(0.2, seed 42) over the *sorted* file list, so the split is the one
fastvision makes), Resize(PRESIZE), aug_transforms(size=SIZE, min_scale=0.75), vision_learner(resnet18,
pretrained=False), fastai's default DataLoader workers, then `fit_one_cycle(1, 1e-3)` timed with perf_counter
(training with data loading, then the validation pass), after a warm-up of WARMUP training batches.
    bench_train.py epoch FOLDER PRESIZE SIZE BATCH THREADS WARMUP
    prints one JSON line: {"epoch_s", "cpu_s", "peak_rss_mb", "n_train", "n_valid", "train_batches", "valid_files", ...}.
"""
import gc
import json
import resource
import sys
import time

import torch
import fastai
from fastai.vision.all import Adam, CrossEntropyLossFlat, create_vision_model, params, resnet18, resnet34


def step_main():
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


def cpu_seconds():
    """User + system CPU time of this process and of its finished children (the DataLoader workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def epoch_main():
    import tempfile
    from pathlib import Path

    from fastai.vision.all import (L, Callback, CancelFitException, CategoryBlock, DataBlock, ImageBlock,
                                   RandomSplitter, RegexLabeller, Resize, aug_transforms, error_rate, get_image_files,
                                   using_attr, vision_learner)

    class StopAfter(Callback):
        """Warm-up: cancels the fit after `n` training batches."""

        def __init__(self, n):
            self.n = n

        def after_batch(self):
            if self.training and self.iter + 1 >= self.n:
                raise CancelFitException()

    folder, presize, size, bs = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    threads, warmup = int(sys.argv[6]), int(sys.argv[7])
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    # fastai lists files in directory order; fastvision sorts them. Sorting here gives both the same split.
    block = DataBlock(blocks=(ImageBlock, CategoryBlock),
                      get_items=lambda p: L(sorted(get_image_files(p))),
                      splitter=RandomSplitter(valid_pct=0.2, seed=42),
                      get_y=using_attr(RegexLabeller(r"(.+)_\d+.jpg$"), "name"),
                      item_tfms=Resize(presize), batch_tfms=aug_transforms(size=size, min_scale=0.75))
    dls = block.dataloaders(folder, bs=bs, device="cpu")
    learn = vision_learner(dls, resnet18, pretrained=False, metrics=error_rate,
                           path=Path(tempfile.mkdtemp(prefix="fastai_bench_epoch_")))
    with learn.no_bar(), learn.no_logging():
        if warmup > 0:
            learn.fit(1, 1e-3, cbs=StopAfter(warmup))
        learn.unfreeze()  # a no-op for pretrained=False, as in fine_tune's second phase
        gc.collect()  # reap the warm-up's workers now, so their CPU time is not counted below
        cpu_start = cpu_seconds()
        start = time.perf_counter()
        learn.fit_one_cycle(1, 1e-3)
        epoch_s = time.perf_counter() - start
        cpu_s = cpu_seconds() - cpu_start
    _, valid_loss, err = (float(v) for v in learn.recorder.values[-1])
    print(json.dumps({
        "epoch_s": epoch_s,
        "cpu_s": cpu_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "workers_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "n_train": len(dls.train_ds),
        "n_valid": len(dls.valid_ds),
        "train_batches": len(dls.train),
        "num_workers": dls.train.fake_l.num_workers,
        "valid_loss": valid_loss,
        "error_rate": err,
        "valid_files": sorted(Path(p).name for p in dls.valid_ds.items),
        "torch": torch.__version__,
        "fastai": fastai.__version__,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "epoch":
        epoch_main()
    else:
        step_main()
