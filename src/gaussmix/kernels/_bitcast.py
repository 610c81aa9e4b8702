"""Reinterpret an integer's bits as a float of the same width, inside jitted loops.

The vectorised exponentials build 2^n from its exponent bits. numba can only
reinterpret arrays (``view``), which took a pass of its own to store the bits and
read them back as floats; LLVM's ``bitcast``, emitted through numba's documented
``intrinsic`` extension API, costs nothing and keeps the loop vectorised.

- ``int32_as_float32(value)``: the float32 with the bits of ``value`` as an int32;
- ``int64_as_float64(value)``: the float64 with the bits of ``value`` as an int64.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["int32_as_float32", "int64_as_float64"]


def _bitcast(value, integer, floating, llvm_type):
    if not isinstance(value, types.Integer):
        raise TypeError(f"expected an integer, got {value}")

    def codegen(context, builder, signature, args):
        # Integer arithmetic in numba widens to int64: narrow (or widen) first.
        bits = context.cast(builder, args[0], signature.args[0], integer)
        return builder.bitcast(bits, llvm_type)

    return floating(value), codegen


@intrinsic
def int32_as_float32(typingctx, value):
    """The float32 whose bits are those of ``value`` cast to int32."""
    return _bitcast(value, types.int32, types.float32, ir.FloatType())


@intrinsic
def int64_as_float64(typingctx, value):
    """The float64 whose bits are those of ``value`` cast to int64."""
    return _bitcast(value, types.int64, types.float64, ir.DoubleType())
