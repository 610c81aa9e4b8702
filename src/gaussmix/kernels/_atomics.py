"""Atomic counters for jitted code: threads claiming tasks, and waiting on them.

numba has no atomics of its own on the CPU, so these are LLVM's, emitted through
numba's documented ``intrinsic`` extension API. Each works on one element of a
1-D int64 array shared by the threads.

- ``fetch_add(counters, index, value)``: add and return the previous value
  (sequentially consistent: the stores a thread made before it are visible to
  any thread that reads the new value);
- ``load_acquire(counters, index)``: read, seeing every store made before the
  value was written;
- ``spin_pause()``: a hint to the processor that this is a wait loop (``pause``
  on x86-64, ``yield`` on AArch64, nothing elsewhere), so a waiting thread does
  not starve one that shares its core.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["fetch_add", "load_acquire", "spin_pause"]

# LLVM's own intrinsic (numba's code generator has no inline assembler).
_PAUSE = platform.machine().lower() in ("x86_64", "amd64")


def _element_pointer(context, builder, array_type, array, index, index_type):
    ary = context.make_array(array_type)(context, builder, array)
    index = context.cast(builder, index, index_type, types.intp)
    return cgutils.get_item_pointer(context, builder, array_type, ary, [index])


def _check_counters(counters) -> None:
    if not (isinstance(counters, types.Array) and counters.ndim == 1):
        raise TypeError("atomic counters must be a 1-D int64 array")
    if counters.dtype != types.int64:
        raise TypeError("atomic counters must be a 1-D int64 array")


@intrinsic
def fetch_add(typingctx, counters, index, value):
    """Atomically add ``value`` to ``counters[index]``; the value before."""
    _check_counters(counters)

    def codegen(context, builder, signature, args):
        array_type, index_type, value_type = signature.args
        pointer = _element_pointer(context, builder, array_type, args[0], args[1], index_type)
        amount = context.cast(builder, args[2], value_type, types.int64)
        return builder.atomic_rmw("add", pointer, amount, "seq_cst")

    return types.int64(counters, index, value), codegen


@intrinsic
def load_acquire(typingctx, counters, index):
    """``counters[index]``, read with acquire ordering."""
    _check_counters(counters)

    def codegen(context, builder, signature, args):
        array_type, index_type = signature.args
        pointer = _element_pointer(context, builder, array_type, args[0], args[1], index_type)
        return builder.load_atomic(pointer, "acquire", 8)

    return types.int64(counters, index), codegen


@intrinsic
def spin_pause(typingctx):
    """Tell the processor this is a spin-wait loop (no effect on results)."""

    def codegen(context, builder, signature, args):
        if _PAUSE:
            pause = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause"
            )
            builder.call(pause, [])
        return context.get_dummy_value()

    return types.void(), codegen
