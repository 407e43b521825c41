"""Split a test-only real set into train and test by whole people, for training within it.

    python scripts/resplit_real_set.py data4/real_actions --out data5/split_a --seed 1
    python scripts/accuracy_suite.py --data data5/split_a --sources real_actions --recipes old default --seeds 0 1 2

The fourth real set (`prepare_real_actions.py --manifest scripts/real_sources_fourth.csv`)
is all test clips, for scoring bundles trained elsewhere. This script makes a set a new
user would have: `OUT/real_actions/{train,test}/<action>/`, with every clip of a
recording's owner (the file name's part before the first `_`: the repository's owner,
the same person or camera across that repository's recordings) on one side. Owners go
to test at random with probability `--share` until every action has at least one test
owner and two train owners, and between 20% and 45% of its clips in test. The same seed
gives the same split. The clips are copied; OUT is built beside its place and renamed
over it once complete.
"""

from __future__ import annotations

import argparse
import random
import shutil
from collections import Counter
from pathlib import Path

from actionrec.datasets import VIDEO_EXTENSIONS
from prepare_real_actions import folder_built_whole

TEST_SHARE_RANGE = (0.2, 0.45)
MAX_DRAWS = 10_000


def owner_of(clip: Path) -> str:
    return clip.name.split("_")[0]


def read_clips(root: Path) -> list[tuple[str, Path]]:
    """`(action, clip)` for every video under `root/<action>/` (or `root/test/<action>/`)."""
    if not root.is_dir():
        raise SystemExit(f"{root}: not a folder")
    if (root / "test").is_dir():
        root = root / "test"
    clips = [(action.name, clip) for action in sorted(p for p in root.iterdir() if p.is_dir())
             for clip in sorted(action.iterdir()) if clip.suffix.lower() in VIDEO_EXTENSIONS]
    if not clips:
        raise SystemExit(f"no clips in action folders under {root}")
    return clips


def balanced(clips: list[tuple[str, Path]], test: set[str]) -> bool:
    """Every action has a test owner, two train owners, and 20-45% of its clips in test."""
    for action in {a for a, _ in clips}:
        owners = [owner_of(c) for a, c in clips if a == action]
        share = sum(o in test for o in owners) / len(owners)
        if not set(owners) & test or len(set(owners) - test) < 2:
            return False
        if not TEST_SHARE_RANGE[0] <= share <= TEST_SHARE_RANGE[1]:
            return False
    return True


def draw_test_owners(clips: list[tuple[str, Path]], seed: int, share: float) -> set[str]:
    owners = sorted({owner_of(c) for _, c in clips})
    rng = random.Random(seed)
    for _ in range(MAX_DRAWS):
        test = {o for o in owners if rng.random() < share}
        if balanced(clips, test):
            return test
    raise SystemExit(f"no split of {len(owners)} owners meets the balance rules in {MAX_DRAWS} draws "
                     f"(every action needs at least 3 owners)")


def side_of(clip: Path, test: set[str]) -> str:
    return "test" if owner_of(clip) in test else "train"


def write_split(clips: list[tuple[str, Path]], test: set[str], out: Path) -> None:
    with folder_built_whole(out) as building:
        for action, clip in clips:
            folder = building / "real_actions" / side_of(clip, test) / action
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(clip, folder / clip.name)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="a real set's folder: <action>/ or test/<action>/ clip folders")
    p.add_argument("--out", type=Path, required=True, help="writes OUT/real_actions/{train,test}")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--share", type=float, default=1 / 3, help="chance that an owner goes to test")
    args = p.parse_args(argv)
    clips = read_clips(args.data)
    test = draw_test_owners(clips, args.seed, args.share)
    write_split(clips, test, args.out)
    counts = Counter((side_of(clip, test), action) for action, clip in clips)
    for side in ("train", "test"):
        print(f"{side}: {({a: counts[side, a] for a in sorted({a for a, _ in clips})})}")
    print(f"test owners: {', '.join(sorted(test))}")


if __name__ == "__main__":
    main()
