"""Campaign-response check on a real randomised experiment: Hillstrom's 2008 e-mail test (64,000 customers).

Runs the estimator's treatment-minus-control step (memberwise.modeling.response.hillstrom_arms) and prints
each e-mail arm's difference from the no-e-mail control with 95% intervals, next to the known figures from
../shared/data/README.md (men's +7.7 pts visit, +0.68 pts conversion, +$0.77 spend;
women's +4.5, +0.31, +0.42).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from memberwise.modeling.response import HILLSTROM_OUTCOMES, hillstrom_arms

KNOWN = {
    "Mens E-Mail": {"visit": 0.077, "conversion": 0.0068, "spend": 0.77},
    "Womens E-Mail": {"visit": 0.045, "conversion": 0.0031, "spend": 0.42},
}
SCALE = {"visit": (100, "pts"), "conversion": (100, "pts"), "spend": (1, "$")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", type=Path, default=Path("../shared/data/hillstrom.csv"))
    args = parser.parse_args()
    arms = hillstrom_arms(pd.read_csv(args.path))
    print(f"{'arm':<14} {'outcome':<10} {'recovered':>10} {'95% interval':>20} {'known':>8}  inside")
    for row in arms.itertuples(index=False):
        for y in HILLSTROM_OUTCOMES:
            factor, unit = SCALE[y]
            value, lo, hi = (getattr(row, f) * factor for f in (y, f"{y}_lo", f"{y}_hi"))
            known = KNOWN[row.arm][y] * factor
            inside = "yes" if lo <= known <= hi else "NO"
            print(
                f"{row.arm:<14} {y:<10} {value:>7.3f} {unit:<3} [{lo:>7.3f}, {hi:>7.3f}] "
                f"{known:>6.2f}  {inside}"
            )
        print(f"{'':<14} n treatment {row.n_t:,}, n control {row.n_c:,}")


if __name__ == "__main__":
    main()
