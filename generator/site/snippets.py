"""Loading snippets of an HDF5 bundle, generated from its layout (the datasets the index lists):
Python with h5py and NumPy, and Julia with HDF5.jl, where the same file reads transposed (HDF5
stores rows one after the other, Julia's arrays are column-major). Each snippet ends by printing
every dataset's key, shape and element type, and says in a comment what that line prints, so
that a reader (and a test) can compare (docs/design/data.md#loading-a-file)."""
from __future__ import annotations

import json
from collections.abc import Sequence

from generator.manifests.index import IndexDataset

# Julia's names of the element types a bundle can be stored as.
JULIA_TYPES = {"float16": "Float16", "float32": "Float32", "float64": "Float64", "int8": "Int8", "int16": "Int16",
               "int32": "Int32", "int64": "Int64", "uint8": "UInt8", "uint16": "UInt16", "uint32": "UInt32",
               "uint64": "UInt64"}


def _variable(dataset: IndexDataset, number: int) -> str:
    """The dataset's key as a variable name, where the key is one in both languages."""
    return dataset.key if dataset.key.isidentifier() and dataset.key.isascii() else f"data{number}"


def _dimension(n: int | None) -> str:
    return "N" if n is None else str(n)


def python_shape(shape: tuple[int | None, ...]) -> str:
    """A shape as NumPy prints it; an unknown dimension is N. Example: python_shape((5, 2)) == "(5, 2)"."""
    return "(" + ", ".join(_dimension(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def julia_shape(shape: tuple[int | None, ...]) -> str:
    """The shape Julia gives the same dataset: the dimensions reversed. Example: julia_shape((5, 2)) == "(2, 5)"."""
    reversed_shape = tuple(reversed(shape))
    return "(" + ", ".join(_dimension(n) for n in reversed_shape) + ("," if len(shape) == 1 else "") + ")"


def python_snippet(name: str, datasets: Sequence[IndexDataset]) -> str:
    """Python that loads every dataset of the bundle `name` into a NumPy array and prints its key,
    shape and dtype.

    Parameters: name (the file, in the current folder), datasets (its layout, from the index).
    Returns: the snippet's text, ending with a newline.
    Example: python_snippet("q.h5", [IndexDataset("emb", "float32", (10000, 768))]) loads
             `emb = f["emb"][:]` and prints `emb (10000, 768) float32`.
    """
    return python_load([(name, datasets)])


def python_load(files: Sequence[tuple[str, Sequence[IndexDataset]]]) -> str:
    """Python that loads several bundles at once (see python_snippet): one `with` block per file,
    then a line printing each dataset's key, shape and dtype. A key met again in a later file gets
    a variable named after its file's position (`knns2`), so that no array hides another.

    Example: python_load([("a.h5", [IndexDataset("emb", "float16", (5, 768))]),
                          ("g.h5", [IndexDataset("knns", "int32", (3, 10))])]) prints two lines.
    """
    lines = ["import h5py"]
    printed: list[tuple[str, IndexDataset]] = []
    taken: set[str] = set()
    for position, (name, datasets) in enumerate(files):
        lines += ["", f"with h5py.File({json.dumps(name)}, \"r\") as f:"]
        for i, d in enumerate(datasets):
            variable = _variable(d, i)
            variable = variable if variable not in taken else f"{variable}{position + 1}"
            taken.add(variable)
            lines.append(f"    {variable} = f[{json.dumps(d.key)}][:]")
            printed.append((variable, d))
    lines.append("")
    for variable, d in printed:
        lines.append(f"print({json.dumps(d.key)}, {variable}.shape, {variable}.dtype)"
                     f"  # prints: {d.key} {python_shape(d.shape)} {d.dtype}")
    return "\n".join(lines) + "\n"


def julia_snippet(name: str, datasets: Sequence[IndexDataset]) -> str:
    """Julia (HDF5.jl) that reads every dataset of the bundle `name`; its shape is the file's
    reversed, one column per object (see python_snippet for the parameters).

    Example: julia_snippet("q.h5", [IndexDataset("emb", "float32", (10000, 768))]) prints
             `emb (768, 10000) Float32`.
    """
    lines = ["using HDF5", "", "# HDF5.jl reads a dataset transposed: one column per object."]
    for i, d in enumerate(datasets):
        lines.append(f"{_variable(d, i)} = h5read({_julia_string(name)}, {_julia_string(d.key)})")
    for i, d in enumerate(datasets):
        variable = _variable(d, i)
        lines.append(f"println({_julia_string(d.key + ' ')}, size({variable}), \" \", eltype({variable}))"
                     f"  # prints: {d.key} {julia_shape(d.shape)} {JULIA_TYPES.get(d.dtype, d.dtype)}")
    return "\n".join(lines) + "\n"


def _julia_string(text: str) -> str:
    """A Julia string literal of `text` (JSON's escapes, and `$`, which Julia would interpolate)."""
    return json.dumps(text).replace("$", "\\$")
