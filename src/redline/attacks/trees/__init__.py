"""Attacks on tree ensembles (targets that expose ``.ensemble``, e.g. TreeTarget): an
exact MILP attack for small ensembles and a greedy cell search for large ones."""

from redline.attacks.trees._solve import TreeSolution, solve_exact
from redline.attacks.trees.exact import TreeExact
from redline.attacks.trees.greedy import TreeGreedy

__all__ = ["TreeExact", "TreeGreedy", "TreeSolution", "solve_exact"]
