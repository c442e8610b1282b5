"""Pick the best frame of a burst of shots of the same scene.

    python examples/best_shot.py examples/images/burst/*.png [--model ID_OR_PATH]

Scores from a ranking model are meant for exactly this: comparing versions of
the same content. The best frame is printed first, then the full ranking.
"""

from __future__ import annotations

import argparse

import rankiqa


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("frames", nargs="+")
    p.add_argument("--model", default="default")
    args = p.parse_args()

    ranked = rankiqa.rank(args.frames, model=args.model)
    print(f"best shot: {ranked[0].path}")
    for r in ranked:
        print(f"  {r.score:8.4f}  {r.path}")


if __name__ == "__main__":
    main()
