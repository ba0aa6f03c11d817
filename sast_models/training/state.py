"""Training state <-> (JSON tree, named tensors), so a resume checkpoint needs no pickle.

`pack` replaces every tensor inside nested dicts/lists/tuples by {"__tensor__": name} and returns the tensors
by name; `unpack` reverses it (tuples come back as lists, which torch optimizers accept). Dict keys become
strings; integer keys (an optimizer's per-parameter state) are tagged so they come back as ints.
"""

from __future__ import annotations

from typing import Any

import torch

TENSOR = "__tensor__"
INT_KEYS = "__int_keys__"


def pack(tree: Any, prefix: str = "") -> tuple[Any, dict[str, torch.Tensor]]:
    """(JSON-able tree, {name: tensor}) for nested dicts, lists, tuples, scalars and tensors."""
    tensors: dict[str, torch.Tensor] = {}

    def visit(node: Any, path: str) -> Any:
        if isinstance(node, torch.Tensor):
            tensors[path] = node.detach().cpu().clone()
            return {TENSOR: path}
        if isinstance(node, dict):
            out = {str(k): visit(v, f"{path}.{k}") for k, v in node.items()}
            if node and all(isinstance(k, int) for k in node):
                out[INT_KEYS] = True
            return out
        if isinstance(node, list | tuple):
            return [visit(v, f"{path}.{i}") for i, v in enumerate(node)]
        if node is None or isinstance(node, bool | int | float | str):
            return node
        raise TypeError(f"cannot pack {type(node).__name__} at {path}")

    return visit(tree, prefix), tensors


def unpack(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The structure `pack` was given (tuples as lists), with its tensors taken from `tensors`."""
    if isinstance(tree, dict):
        if set(tree) == {TENSOR}:
            return tensors[tree[TENSOR]]
        int_keys = tree.get(INT_KEYS, False)
        return {(int(k) if int_keys else k): unpack(v, tensors) for k, v in tree.items() if k != INT_KEYS}
    if isinstance(tree, list):
        return [unpack(v, tensors) for v in tree]
    return tree
