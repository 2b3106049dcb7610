#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into corpus/<target>/: a few small valid and nearly valid
inputs each, so that libFuzzer starts from the formats' structure. Run from anywhere:
    python3 tests/fuzz/make_seeds.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, bytes)] laid out in order; returns the file's bytes."""
    header, data, offset = {}, b"", 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def gpt_tensors(V, T, C, H, L):
    """The state_dict of a BabyGPT with these sizes, with small made-up values."""
    hs = C // H
    out = []

    def add(name, shape):
        n = 1
        for d in shape:
            n *= d
        out.append((name, "F32", shape, f32([((i * 7) % 5 - 2) / 10 for i in range(n)])))

    add("token_embedding_table.weight", [V, C])
    add("postion_embedding_table.weight", [T, C])
    for l in range(L):
        b = "blocks.%d." % l
        for h in range(H):
            p = b + "sa.heads.%d." % h
            add(p + "key.weight", [hs, C])
            add(p + "query.weight", [hs, C])
            add(p + "value.weight", [hs, C])
            out.append((p + "tril", "F32", [T, T], f32([1.0 if j <= i else 0.0 for i in range(T) for j in range(T)])))
        add(b + "sa.proj.weight", [C, C])
        add(b + "sa.proj.bias", [C])
        add(b + "ffwd.net.0.weight", [4 * C, C])
        add(b + "ffwd.net.0.bias", [4 * C])
        add(b + "ffwd.net.2.weight", [C, 4 * C])
        add(b + "ffwd.net.2.bias", [C])
        for ln in ("ln1", "ln2"):
            add(b + ln + ".weight", [C])
            add(b + ln + ".bias", [C])
    add("ln_final.weight", [C])
    add("ln_final.bias", [C])
    add("lm_head.weight", [V, C])
    add("lm_head.bias", [V])
    return out


def config(V, T, C, H, L):
    return {"vocab_size": str(V), "block_size": str(T), "n_embed": str(C), "n_head": str(H), "n_layer": str(L),
            "dropout": "0"}


def main():
    # ---- safetensors ----
    write("safetensors", "empty_header", safetensors([]))
    write("safetensors", "two_tensors", safetensors(
        [("a", "F32", [2], f32([1, -2])), ("idx", "I64", [], struct.pack("<q", -1)),
         ("empty", "F64", [0, 3], b"")], {"note": "h\u00e9llo"}))
    write("safetensors", "f16_and_u8", safetensors([("h", "F16", [2], b"\x00\x3c\x00\xc0"), ("b", "U8", [3], b"\x01\x02\x03")]))
    write("safetensors", "nested_value", struct.pack("<Q", 32) + b'{"a":{"dtype":[[["F32"]]]}}     ')

    # ---- checkpoint ----
    smallest = (1, 1, 1, 1, 1)
    write("checkpoint", "smallest_gpt", safetensors(gpt_tensors(*smallest), config(*smallest)))
    two_heads = (3, 2, 2, 2, 1)
    write("checkpoint", "two_heads", safetensors(gpt_tensors(*two_heads), config(*two_heads)))
    lying = config(*smallest)
    lying["n_layer"] = "1000"
    write("checkpoint", "config_larger_than_file", safetensors(gpt_tensors(*smallest), lying))

    # ---- text ----
    write("text", "ascii", "To be, or not to be: that is the question.\n")
    write("text", "mixed", "\ufeffna\u00efve \u4e2d\u6587 \U0001F600 \u2028 \x00 end\ufeff")
    write("text", "invalid", b"ok \xc0\x80 \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82")
    write("text", "vocabulary", "".join(sorted(set("\ufeff\x00abc\u00e9\u4e2d"))))

    # ---- config ----
    write("config", "toml", '# settings\nbatch-size = 64\nblock-size = 128\ndropout = 0.2\n'
          'data = "input.txt"\nprompt = ["a", "b"]\nverbose = true\n')
    write("config", "ini_sections", "[train]\nn-layer=6\nseed=18446744073709551615\n[other]\nx=1\n")
    write("config", "quoting", "preset = 'v11'\nlearning-rate = 3e-4\ndata = \"\"\"multi\nline\"\"\"\n"
          "train.batch-size = 8\n")
    # A crash once found by fuzzing: an empty list is no value at all, which a flag's callback cannot take.
    write("config", "empty_list", "verbose=[]\n")


if __name__ == "__main__":
    main()
