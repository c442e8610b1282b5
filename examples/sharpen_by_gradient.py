"""Make a blurred image look better by gradient ascent on rankiqa's differentiable score.

    python examples/sharpen_by_gradient.py examples/images/scene.png --steps 20 --out sharpened.png

rankiqa.QualityMetric is an nn.Module: its score has gradients with respect to
the pixels, so it can serve as a loss (here: maximise it, a few Adam steps on
the image itself). Prints the score before and after.
"""

from __future__ import annotations

import argparse

import torch
from PIL import Image, ImageFilter
from torchvision.transforms.functional import pil_to_tensor, to_pil_image

import rankiqa


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image")
    p.add_argument("--model", default="default")
    p.add_argument("--blur", type=float, default=2.0, help="Gaussian blur applied first (radius, pixels)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--out", default=None, help="write the result here")
    args = p.parse_args()

    metric = rankiqa.QualityMetric(args.model, protocol="grid")
    blurred = Image.open(args.image).convert("RGB").filter(ImageFilter.GaussianBlur(args.blur))
    x = (pil_to_tensor(blurred).float() / 255).unsqueeze(0).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=args.lr)
    with torch.no_grad():
        before = float(metric(x))
    for _ in range(args.steps):
        opt.zero_grad()
        (-metric(x).sum()).backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    with torch.no_grad():
        after = float(metric(x))
    print(f"score before {before:.6f} after {after:.6f}")
    if args.out:
        to_pil_image(x.detach()[0]).save(args.out)


if __name__ == "__main__":
    main()
