"""An 8 x 8 block transpose for jitted code, in vector registers.

The kernels read rows (samples x features) and work on columns (features x
rows), so every chunk is transposed first. Element by element that is a load and
a store per value (0.4-0.8 ns each); eight rows loaded as eight vectors and
transposed by a shuffle network (24 shuffles, the classic unpack, shuffle and
lane-permute stages) take about a quarter of that. numba has no vector types, so
the block is emitted in LLVM IR through numba's documented ``intrinsic``
extension API; LLVM lowers each ``shufflevector`` to the target's instructions
(``unpcklps``, ``shufps``, ``vperm2f128`` with AVX).

- ``transpose8(X, row, feature, Xt, column)``: ``Xt[feature + j, column + i] =
  X[row + i, feature + j]`` for ``i, j < 8``, for 2-D float32 or float64 arrays
  (values are converted to ``Xt``'s dtype). Rows of C-contiguous arrays move as
  vectors, those of other layouts value by value. The caller keeps every index in
  bounds (no checks).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["transpose8"]

_WIDTH = 8

# Stage 1 interleaves pairs of rows within 128-bit lanes (unpcklps, unpckhps),
# stage 2 pairs of those (shufps), stage 3 swaps 128-bit halves (vperm2f128).
_UNPACK_LOW = (0, 8, 1, 9, 4, 12, 5, 13)
_UNPACK_HIGH = (2, 10, 3, 11, 6, 14, 7, 15)
_PAIRS_LOW = (0, 1, 8, 9, 4, 5, 12, 13)
_PAIRS_HIGH = (2, 3, 10, 11, 6, 7, 14, 15)
_HALVES_LOW = (0, 1, 2, 3, 8, 9, 10, 11)
_HALVES_HIGH = (4, 5, 6, 7, 12, 13, 14, 15)


def _shuffle(builder, a, b, mask):
    return builder.shuffle_vector(
        a, b, ir.Constant(ir.VectorType(ir.IntType(32), len(mask)), mask)
    )


def _pointer(context, builder, array_type, array, indices):
    return cgutils.get_item_pointer2(
        context, builder, array.data, cgutils.unpack_tuple(builder, array.shape),
        cgutils.unpack_tuple(builder, array.strides), array_type.layout, indices,
    )  # fmt: skip


def _load_row(context, builder, array_type, array, row, first, vector):
    """``array[row, first:first + 8]`` as a vector of ``array``'s dtype."""
    if array_type.layout == "C":
        pointer = _pointer(context, builder, array_type, array, [row, first])
        return builder.load(builder.bitcast(pointer, vector.as_pointer()), align=1)
    values = ir.Constant(vector, ir.Undefined)
    for j in range(_WIDTH):
        at = builder.add(first, ir.Constant(first.type, j))
        value = builder.load(_pointer(context, builder, array_type, array, [row, at]))
        values = builder.insert_element(values, value, ir.Constant(ir.IntType(32), j))
    return values


def _store_row(context, builder, array_type, array, row, first, values):
    """``array[row, first:first + 8] = values``."""
    if array_type.layout == "C":
        pointer = _pointer(context, builder, array_type, array, [row, first])
        builder.store(values, builder.bitcast(pointer, values.type.as_pointer()), align=1)
        return
    for j in range(_WIDTH):
        at = builder.add(first, ir.Constant(first.type, j))
        value = builder.extract_element(values, ir.Constant(ir.IntType(32), j))
        builder.store(value, _pointer(context, builder, array_type, array, [row, at]))


def _check(X, Xt):
    for array in (X, Xt):
        if not (isinstance(array, types.Array) and array.ndim == 2):
            raise TypeError("transpose8 needs 2-D arrays")
        if array.dtype not in (types.float32, types.float64):
            raise TypeError("transpose8 needs float32 or float64 arrays")


@intrinsic
def transpose8(typingctx, X, row, feature, Xt, column):
    """``Xt[feature:feature + 8, column:column + 8] = X[row:row + 8, feature:feature + 8].T``."""
    _check(X, Xt)

    def codegen(context, builder, signature, args):
        x_type, row_type, feature_type, xt_type, column_type = signature.args
        X_value, row_value, feature_value, Xt_value, column_value = args
        source = ir.VectorType(context.get_data_type(x_type.dtype), _WIDTH)
        target = ir.VectorType(context.get_data_type(xt_type.dtype), _WIDTH)
        ary = context.make_array(x_type)(context, builder, X_value)
        out = context.make_array(xt_type)(context, builder, Xt_value)
        row_index = context.cast(builder, row_value, row_type, types.intp)
        feature_index = context.cast(builder, feature_value, feature_type, types.intp)
        column_index = context.cast(builder, column_value, column_type, types.intp)
        rows = []
        for i in range(_WIDTH):
            at = builder.add(row_index, ir.Constant(row_index.type, i))
            values = _load_row(context, builder, x_type, ary, at, feature_index, source)
            if x_type.dtype != xt_type.dtype:
                widen = x_type.dtype == types.float32
                values = (builder.fpext if widen else builder.fptrunc)(values, target)
            rows.append(values)
        pairs = []
        for i in range(0, _WIDTH, 2):
            pairs.append(_shuffle(builder, rows[i], rows[i + 1], _UNPACK_LOW))
            pairs.append(_shuffle(builder, rows[i], rows[i + 1], _UNPACK_HIGH))
        quads = []
        for i in range(0, _WIDTH, 4):
            quads.append(_shuffle(builder, pairs[i], pairs[i + 2], _PAIRS_LOW))
            quads.append(_shuffle(builder, pairs[i], pairs[i + 2], _PAIRS_HIGH))
            quads.append(_shuffle(builder, pairs[i + 1], pairs[i + 3], _PAIRS_LOW))
            quads.append(_shuffle(builder, pairs[i + 1], pairs[i + 3], _PAIRS_HIGH))
        columns = [_shuffle(builder, quads[j], quads[j + 4], _HALVES_LOW) for j in range(4)]
        columns += [_shuffle(builder, quads[j], quads[j + 4], _HALVES_HIGH) for j in range(4)]
        for j, values in enumerate(columns):
            at = builder.add(feature_index, ir.Constant(feature_index.type, j))
            _store_row(context, builder, xt_type, out, at, column_index, values)
        return context.get_dummy_value()

    return types.void(X, row, feature, Xt, column), codegen
