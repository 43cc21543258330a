"""The PyTorch twin of `fastvision gpu-check`'s timed epochs, on the same GPU and photos: fastbook chapter 5's
recipe without fastai (not installed on the GPU machine) — Resize(460) crop per item on the CPU workers,
aug_transforms(size=224, min_scale=0.75) as one affine grid_sample per batch on the GPU, ImageNet normalisation,
resnet34 (random weights) with fastai's head, Adam(0.9, 0.99, eps 1e-5), one-cycle at 1e-3 per epoch, in f32 and
in bf16 autocast. Writes one JSON."""
import argparse, json, math, os, random, re, threading, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


class Pets(torch.utils.data.Dataset):
    def __init__(self, files, labels, presize, train):
        self.files, self.labels, self.presize, self.train = files, labels, presize, train

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        img = Image.open(self.files[i]).convert("RGB")
        w, h = img.size
        s = self.presize / min(w, h)
        img = img.resize((max(self.presize, round(w * s)), max(self.presize, round(h * s))), Image.BILINEAR)
        w, h = img.size
        x0 = random.randint(0, w - self.presize) if self.train else (w - self.presize) // 2
        y0 = random.randint(0, h - self.presize) if self.train else (h - self.presize) // 2
        img = img.crop((x0, y0, x0 + self.presize, y0 + self.presize))
        return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1), self.labels[i]


def augment(x_u8, size, train):
    """One affine grid_sample per batch: random resized crop (min_scale 0.75), flip, rotate 10°, zoom 1.1,
    brightness/contrast 0.2, then ImageNet normalisation."""
    n = x_u8.shape[0]
    x = x_u8.float().div_(255)
    dev = x.device
    if train:
        scale = torch.empty(n, device=dev).uniform_(0.75, 1.0)
        ratio = torch.exp(torch.empty(n, device=dev).uniform_(math.log(3 / 4), math.log(4 / 3)))
        sx, sy = torch.sqrt(scale * ratio).clamp(max=1), torch.sqrt(scale / ratio).clamp(max=1)
        tx, ty = (1 - sx) * torch.empty(n, device=dev).uniform_(-1, 1), (1 - sy) * torch.empty(n, device=dev).uniform_(-1, 1)
        angle = torch.empty(n, device=dev).uniform_(-10, 10) * math.pi / 180
        zoom = 1 / torch.empty(n, device=dev).uniform_(1.0, 1.1)
        flip = torch.where(torch.rand(n, device=dev) < 0.5, -1.0, 1.0)
        cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
        theta = torch.stack([torch.stack([cos * sx * flip, -sin * sy, tx], 1),
                             torch.stack([sin * sx * flip, cos * sy, ty], 1)], 1)
    else:
        theta = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], device=dev).repeat(n, 1, 1)
    grid = F.affine_grid(theta, (n, 3, size, size), align_corners=True)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=True)
    if train:
        b = torch.empty(n, 1, 1, 1, device=dev).uniform_(-0.2, 0.2)
        c = torch.exp(torch.empty(n, 1, 1, 1, device=dev).uniform_(math.log(0.8), math.log(1.25)))
        x = ((x - 0.5) * c + 0.5 + b).clamp_(0, 1)
    return (x - MEAN.to(dev)) / STD.to(dev)


def model(n_classes):
    body = nn.Sequential(*list(torchvision.models.resnet34(weights=None).children())[:-2])

    class ConcatPool(nn.Module):
        def forward(self, x):
            return torch.cat([F.adaptive_max_pool2d(x, 1), F.adaptive_avg_pool2d(x, 1)], 1).flatten(1)

    head = nn.Sequential(ConcatPool(), nn.BatchNorm1d(1024), nn.Dropout(0.25), nn.Linear(1024, 512, bias=False),
                         nn.ReLU(inplace=True), nn.BatchNorm1d(512), nn.Dropout(0.5), nn.Linear(512, n_classes, bias=False))
    return nn.Sequential(body, head)


def one_cycle(pos, lr_max):
    """fastai's fit_one_cycle at position pos in [0, 1): cosine warm-up from lr_max/25 over the first quarter, then
    cosine down to lr_max/25/1e5; momentum 0.95 -> 0.85 -> 0.95. (torch's OneCycleLR divides by zero on the
    4-batch epochs of this data set.)"""
    cos = lambda a, b, p: b + (a - b) / 2 * (1 + math.cos(math.pi * p))
    if pos < 0.25:
        return cos(lr_max / 25, lr_max, pos / 0.25), cos(0.95, 0.85, pos / 0.25)
    return cos(lr_max, lr_max / 25 / 1e5, (pos - 0.25) / 0.75), cos(0.85, 0.95, (pos - 0.25) / 0.75)


def run(precision, args, files, labels, classes):
    torch.manual_seed(42)
    random.seed(42)
    order = torch.randperm(len(files)).tolist()
    n_valid = int(0.2 * len(files))
    valid, train = order[:n_valid], order[n_valid:]
    mk = lambda idx, tr: torch.utils.data.DataLoader(
        Pets([files[i] for i in idx], [labels[i] for i in idx], args.presize, tr), batch_size=args.bs, shuffle=tr,
        drop_last=tr, num_workers=min(8, os.cpu_count() or 1), pin_memory=True, persistent_workers=True)
    train_dl, valid_dl = mk(train, True), mk(valid, False)
    dev = torch.device("cuda")
    net = model(len(classes)).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-5)
    dtype = {"f32": None, "bf16": torch.bfloat16}[precision]
    torch.cuda.reset_peak_memory_stats()
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            free, total = torch.cuda.mem_get_info()
            peak[0] = max(peak[0], total - free)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    epochs = []
    for epoch in range(args.epochs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        net.train()
        for step, (x, y) in enumerate(train_dl):
            lr, mom = one_cycle(step / len(train_dl), 1e-3)
            for group in opt.param_groups:
                group["lr"], group["betas"] = lr, (mom, 0.99)
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
                loss = F.cross_entropy(net(augment(x, args.size, True)), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        losses, wrong, seen = 0.0, 0, 0
        with torch.no_grad(), torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
            for x, y in valid_dl:
                x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
                out = net(augment(x, args.size, False)).float()
                losses += F.cross_entropy(out, y, reduction="sum").item()
                wrong += (out.argmax(1) != y).sum().item()
                seen += len(y)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        epochs.append({"epoch": epoch, "seconds": seconds, "valid_loss": losses / seen, "error_rate": wrong / seen,
                       "train_images_per_s": len(train) / seconds})
        print(precision, epochs[-1], flush=True)
    stop.set()
    sampler.join()
    return {"arch": "resnet34", "bs": args.bs, "presize": args.presize, "size": args.size, "precision": precision,
            "train_items": len(train), "valid_items": len(valid), "epochs": epochs,
            "torch_max_reserved_mib": torch.cuda.max_memory_reserved() / 2**20,
            "device_used_peak_mib": peak[0] / 2**20}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--json", required=True)
    p.add_argument("--bs", type=int, default=64)
    p.add_argument("--presize", type=int, default=460)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args()
    files = sorted(os.path.join(args.data, f) for f in os.listdir(args.data) if f.endswith(".jpg"))
    names = [re.match(r"(.+)_\d+.jpg$", os.path.basename(f)).group(1) for f in files]
    classes = sorted(set(names))
    labels = [classes.index(n) for n in names]
    report = {"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
              "cudnn_benchmark": torch.backends.cudnn.benchmark, "gpu": torch.cuda.get_device_name()}
    for precision in ["f32", "bf16"]:
        try:
            report[f"epoch_{precision}"] = run(precision, args, files, labels, classes)
        except Exception as e:  # one precision failing must not lose the other's numbers
            report[f"epoch_{precision}"] = {"error": repr(e)}
        with open(args.json + ".tmp", "w") as f:
            json.dump(report, f, indent=2)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
