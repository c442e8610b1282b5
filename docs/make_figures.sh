#!/usr/bin/env bash
# Regenerates the README's report screenshot and quality map with the project's own commands:
#   bash docs/make_figures.sh        (needs ../shared/data and Debian's chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A photo (scikit-image's chelsea, CC0) with camera shake in its left half only.
python - "$tmp" <<'PY'
import sys
import numpy as np
from PIL import Image
from rankiqa.train.distortions import apply_distortion
photo = np.asarray(Image.open("../shared/data/refs_extra/skimage_chelsea.png").convert("RGB"))
shaken = apply_distortion("camera_shake", photo, 4, rng=0)
half = photo.copy()
half[:, : photo.shape[1] // 2] = shaken[:, : photo.shape[1] // 2]
Image.fromarray(half).save(f"{sys.argv[1]}/chelsea_left_shaken.png")
PY
rankiqa map "$tmp/chelsea_left_shaken.png" -o docs/quality_map.jpg

# The example burst plus one broken file, ranked into a report, photographed by Chromium.
mkdir "$tmp/burst"
cd "$tmp"
cp "$root"/examples/images/burst/*.png burst/
printf "not an image" > burst/frame5_broken.jpg
rankiqa rank burst --html burst/report.html --title "burst: best shot first" --no-progress || true
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
    --hide-scrollbars --window-size=1000,640 --screenshot="$root/docs/report.png" "file://$tmp/burst/report.html"
