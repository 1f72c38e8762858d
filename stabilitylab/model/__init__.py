"""Equilibrium blocks (thick, conservative), their config, and their Fields."""
from .blocks import BLOCKS, ConservativeBlock, EquilibriumBlock, ThickBlock, make_block
from .config import BlockConfig
from .field import BlockForce, block_field

__all__ = ["BLOCKS", "BlockConfig", "BlockForce", "ConservativeBlock", "EquilibriumBlock",
           "ThickBlock", "block_field", "make_block"]
