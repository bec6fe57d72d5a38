"""Each hardened backend keeps its stock class's name, so redirect URIs and settings stay the same."""

from __future__ import annotations

from importlib import import_module

import pytest

from netbox_sso.backends.catalog import HARDENED_BACKENDS


def load(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


@pytest.mark.parametrize(("stock", "ours"), sorted(HARDENED_BACKENDS.items()))
def test_hardened_backend_is_a_same_named_replacement(stock, ours):
    stock_class, our_class = load(stock), load(ours)
    assert our_class.name == stock_class.name
