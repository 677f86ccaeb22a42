#!/usr/bin/python3
"""The reference data pipeline: PIL + torchvision in DataLoader worker processes, with the
multi-crop transforms of the method (DINO/iBOT's DataAugmentation: docs/method.md#multi-crop-views), and
the block masks computed in the workers as iBOT's ImageFolderMask does (simplified to
the draw count, which is negligible next to the pixel work).

  /usr/bin/python3 bench/reference_data.py FOLDER --workers 2 --batch 32 --batches 6

Prints one JSON object: images per second after one warm-up batch.
"""
import argparse
import json
import os
import time

import torch
from PIL import Image, ImageFilter, ImageOps
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class GaussianBlur:
    def __init__(self, p):
        self.p = p

    def __call__(self, img):
        if torch.rand(1).item() >= self.p:
            return img
        sigma = 0.1 + torch.rand(1).item() * 1.9
        return img.filter(ImageFilter.GaussianBlur(radius=sigma))


class Solarization:
    def __init__(self, p):
        self.p = p

    def __call__(self, img):
        return ImageOps.solarize(img) if torch.rand(1).item() < self.p else img


class MultiCrop:
    def __init__(self, global_scale=(0.4, 1.0), local_scale=(0.05, 0.4), local_count=10):
        flip_and_jitter = transforms.Compose([
            transforms.RandomHorizontalFlip(p=0.5),
            transforms.RandomApply([transforms.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
            transforms.RandomGrayscale(p=0.2),
        ])
        normalize = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
        bicubic = transforms.InterpolationMode.BICUBIC
        self.global1 = transforms.Compose([transforms.RandomResizedCrop(224, scale=global_scale, interpolation=bicubic),
                                           flip_and_jitter, GaussianBlur(1.0), normalize])
        self.global2 = transforms.Compose([transforms.RandomResizedCrop(224, scale=global_scale, interpolation=bicubic),
                                           flip_and_jitter, GaussianBlur(0.1), Solarization(0.2), normalize])
        self.local = transforms.Compose([transforms.RandomResizedCrop(96, scale=local_scale, interpolation=bicubic),
                                         flip_and_jitter, GaussianBlur(0.5), normalize])
        self.local_count = local_count

    def __call__(self, img):
        return [self.global1(img), self.global2(img)] + [self.local(img) for _ in range(self.local_count)]


class Folder(Dataset):
    def __init__(self, root):
        self.files = sorted(os.path.join(root, f) for f in os.listdir(root) if f.lower().endswith((".jpg", ".jpeg", ".png")))
        self.transform = MultiCrop()

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        with open(self.files[i], "rb") as f:
            img = Image.open(f).convert("RGB")
        views = self.transform(img)
        masks = [torch.zeros(14, 14, dtype=torch.bool) for _ in range(2)]
        return views, masks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = Folder(args.folder)
    loader = DataLoader(data, batch_size=args.batch, shuffle=True, num_workers=args.workers, drop_last=True,
                        persistent_workers=True)
    clock = os.sysconf("SC_CLK_TCK")

    def cpu_seconds(workers):
        """CPU time of this process and its worker processes (user + system)."""
        own = os.times()
        total = own.user + own.system
        for w in workers:
            with open(f"/proc/{w.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / clock
        return total

    images, started, cpu_started = 0, None, None
    while True:
        it = iter(loader)
        for views, masks in it:
            if started is None:
                started = time.perf_counter()  # after the first (warm-up) batch
                cpu_started = cpu_seconds(it._workers)
                continue
            images += views[0].shape[0]
            if images >= args.batch * args.batches:
                seconds = time.perf_counter() - started
                cpu = cpu_seconds(it._workers) - cpu_started
                print(json.dumps({"imagesPerSecond": images / seconds, "cpuMillisecondsPerImage": 1000 * cpu / images,
                                  "images": images, "seconds": seconds, "workers": args.workers, "batch": args.batch,
                                  "torch": torch.__version__}))
                return


if __name__ == "__main__":
    main()
