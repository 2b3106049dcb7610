#!/usr/bin/python3
"""Minimal reader and writer for the safetensors file format.

Layout of a file:
  * 8 bytes: little-endian unsigned 64-bit integer N, the size of the header;
  * N bytes: UTF-8 JSON object mapping each tensor name to
    {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}
    plus an optional "__metadata__" entry holding a str -> str map;
    the header is padded with spaces so that the data section starts at a
    multiple of 8 bytes;
  * the data section: every tensor stored contiguously, little-endian,
    row-major; data_offsets are relative to the start of the data section.

Tensors are written sorted by name, without gaps between them.

Public functions:
  save_file(tensors, path, metadata=None)
  load_file(path) -> dict name -> torch.Tensor
  load_metadata(path) -> dict str -> str
  load_file_with_metadata(path) -> (tensors, metadata)
"""

import json
import struct

import numpy as np
import torch

# dtype string -> (torch dtype, little-endian numpy dtype used for the bytes)
# bfloat16 has no numpy equivalent: its bytes go through int16 and are
# reinterpreted with Tensor.view, which keeps the element size.
_DTYPES = {
    "F64": (torch.float64, np.dtype("<f8")),
    "F32": (torch.float32, np.dtype("<f4")),
    "F16": (torch.float16, np.dtype("<f2")),
    "BF16": (torch.bfloat16, np.dtype("<i2")),
    "I64": (torch.int64, np.dtype("<i8")),
    "I32": (torch.int32, np.dtype("<i4")),
    "I16": (torch.int16, np.dtype("<i2")),
    "I8": (torch.int8, np.dtype("i1")),
    "U8": (torch.uint8, np.dtype("u1")),
    "BOOL": (torch.bool, np.dtype("?")),
}
_TORCH_TO_NAME = {torch_dtype: name for name, (torch_dtype, _) in _DTYPES.items()}

_MAX_HEADER = 100 * 1024 * 1024  # refuse absurd header sizes


class SafetensorsError(ValueError):
    """Raised when a file does not follow the format."""


def _tensor_bytes(tensor):
    name = _TORCH_TO_NAME.get(tensor.dtype)
    if name is None:
        raise SafetensorsError("unsupported dtype %s" % tensor.dtype)
    t = tensor.detach().to("cpu").contiguous()
    np_dtype = _DTYPES[name][1]
    if name == "BF16":
        t = t.view(torch.int16)
    return name, t.numpy().astype(np_dtype, copy=False).tobytes(order="C")


def save_file(tensors, path, metadata=None):
    """Write a dict name -> torch.Tensor (and an optional str -> str metadata map)."""
    header = {}
    if metadata is not None:
        meta = {}
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise SafetensorsError("metadata keys and values must be str (%r: %r)" % (key, value))
            meta[key] = value
        header["__metadata__"] = meta
    chunks = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise SafetensorsError("'__metadata__' is reserved and cannot name a tensor")
        tensor = tensors[name]
        if not isinstance(tensor, torch.Tensor):
            raise SafetensorsError("value for %r is not a torch.Tensor" % name)
        dtype_name, data = _tensor_bytes(tensor)
        header[name] = {
            "dtype": dtype_name,
            "shape": [int(d) for d in tensor.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    header_bytes += b" " * ((-len(header_bytes)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for chunk in chunks:
            f.write(chunk)


def _read(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise SafetensorsError("%s: file too short for the header size" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if n > _MAX_HEADER or 8 + n > len(raw):
        raise SafetensorsError("%s: invalid header size %d (file has %d bytes)" % (path, n, len(raw)))
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SafetensorsError("%s: header is not valid UTF-8 JSON: %s" % (path, exc))
    if not isinstance(header, dict):
        raise SafetensorsError("%s: header is not a JSON object" % path)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError("%s: __metadata__ must be a str -> str map" % path)
    data = memoryview(raw)[8 + n:]
    tensors = {}
    # Entries must tile the data section exactly, in offset order.
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1].get("data_offsets", [0, 0])))
    expected_begin = 0
    for name, info in entries:
        if not isinstance(info, dict):
            raise SafetensorsError("%s: entry %r is not an object" % (path, name))
        dtype_name = info.get("dtype")
        if dtype_name not in _DTYPES:
            raise SafetensorsError("%s: tensor %r has unsupported dtype %r" % (path, name, dtype_name))
        shape = info.get("shape")
        offsets = info.get("data_offsets")
        if (not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape)
                or not isinstance(offsets, list) or len(offsets) != 2):
            raise SafetensorsError("%s: tensor %r has a malformed shape or data_offsets" % (path, name))
        begin, end = offsets
        torch_dtype, np_dtype = _DTYPES[dtype_name]
        count = 1
        for d in shape:
            count *= d
        if begin != expected_begin or end < begin or end > len(data):
            raise SafetensorsError("%s: tensor %r has invalid data_offsets %r" % (path, name, offsets))
        if end - begin != count * np_dtype.itemsize:
            raise SafetensorsError("%s: tensor %r: %d bytes do not match shape %r of %s"
                                   % (path, name, end - begin, shape, dtype_name))
        expected_begin = end
        arr = np.frombuffer(data[begin:end], dtype=np_dtype, count=count)
        arr = arr.astype(np_dtype.newbyteorder("="), copy=True).reshape(shape)
        tensor = torch.from_numpy(arr)
        if dtype_name == "BF16":
            tensor = tensor.view(torch.bfloat16)
        assert tensor.dtype == torch_dtype
        tensors[name] = tensor
    if expected_begin != len(data):
        raise SafetensorsError("%s: %d trailing bytes after the last tensor"
                               % (path, len(data) - expected_begin))
    return tensors, metadata


def load_file_with_metadata(path):
    """Return (dict name -> torch.Tensor, dict str -> str metadata)."""
    return _read(path)


def load_file(path):
    """Return dict name -> torch.Tensor."""
    return _read(path)[0]


def load_metadata(path):
    """Return the __metadata__ map (empty dict when absent)."""
    return _read(path)[1]


if __name__ == "__main__":
    import sys
    for p in sys.argv[1:]:
        ts, md = load_file_with_metadata(p)
        print("%s: %d tensors" % (p, len(ts)))
        for k, v in md.items():
            print("  meta %s = %s" % (k, v))
        for k in sorted(ts):
            print("  %-45s %-14s %s" % (k, str(ts[k].dtype).replace("torch.", ""), list(ts[k].shape)))
