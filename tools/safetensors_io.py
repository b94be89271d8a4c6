"""Minimal, dependency-free safetensors writer/reader (numpy only).

File layout (https://github.com/huggingface/safetensors):
    8 bytes   little-endian uint64 N = length of the JSON header
    N bytes   UTF-8 JSON header, padded with spaces to a multiple of 8
    ...       data section: raw little-endian tensor bytes, back to back

Header JSON:
    {"__metadata__": {str: str},                      (optional)
     "<name>": {"dtype": "F32"|"F16"|"BF16",
                "shape": [d0, d1, ...],
                "data_offsets": [begin, end]}, ...}
offsets are relative to the start of the data section.  This writer lays the
tensors out in sorted-name order, contiguously, starting at offset 0.

BF16 has no numpy dtype: it is handled as uint16 bit patterns (the top 16
bits of the float32 bit pattern, rounded to nearest-even).
"""
import json
import struct

import numpy as np

_DTYPE_SIZE = {"F32": 4, "F16": 2, "BF16": 2}


def float32_to_bf16_bits(a):
    """float32 array -> uint16 array of bf16 bit patterns (round to nearest, ties to even)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    bits = a.view(np.uint32).astype(np.uint64)
    lsb = (bits >> 16) & 1                      # last bit that survives
    rounded = (bits + 0x7FFF + lsb) >> 16       # round half to even
    if np.isnan(a).any():
        raise ValueError("NaN not supported")
    return rounded.astype(np.uint16)


def bf16_bits_to_float32(bits):
    """uint16 bf16 bit patterns -> float32 array (exact)."""
    bits = np.asarray(bits, dtype=np.uint16)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def round_to_bf16(a):
    """float32 array -> float32 array holding the nearest bf16 values."""
    return bf16_bits_to_float32(float32_to_bf16_bits(a))


def _encode(arr, dtype):
    arr = np.asarray(arr)
    if dtype == "F32":
        raw = np.ascontiguousarray(arr, dtype="<f4")
    elif dtype == "F16":
        raw = np.ascontiguousarray(np.asarray(arr, dtype=np.float32).astype("<f2"))
    elif dtype == "BF16":
        raw = np.ascontiguousarray(float32_to_bf16_bits(arr).astype("<u2"))
    else:
        raise ValueError(dtype)
    return raw.tobytes()


def save_file(tensors, path, dtype="F32", metadata=None):
    """Write {name: numpy array (float)} to `path`, every tensor converted to `dtype`."""
    names = sorted(tensors)
    header = {}
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in names:
        arr = np.asarray(tensors[name])
        blob = _encode(arr, dtype)
        assert len(blob) == arr.size * _DTYPE_SIZE[dtype]
        header[name] = {"dtype": dtype, "shape": [int(d) for d in arr.shape],
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for blob in blobs:
            f.write(blob)
    return offset  # size of the data section in bytes


def load_file(path):
    """Read a safetensors file -> ({name: float32 numpy array}, metadata dict, {name: dtype})."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    out, dtypes = {}, {}
    expected_begin = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = info["data_offsets"]
        assert b == expected_begin, "gap or overlap in data section at " + name
        expected_begin = e
        raw = body[b:e]
        shape = tuple(info["shape"])
        if info["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif info["dtype"] == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif info["dtype"] == "BF16":
            arr = bf16_bits_to_float32(np.frombuffer(raw, dtype="<u2"))
        else:
            raise ValueError(info["dtype"])
        out[name] = arr.reshape(shape)
        dtypes[name] = info["dtype"]
    assert expected_begin == len(body), "trailing bytes in data section"
    return out, metadata, dtypes
