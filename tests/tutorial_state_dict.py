#!/usr/bin/env python3
"""Checks that a tutorial step's checkpoint holds exactly that step's state_dict, as TUTORIAL.md's table
gives it: every key, every shape, nothing else. Standard library only (no PyTorch needed).

    tests/tutorial_state_dict.py STEP CHECKPOINT

The vocabulary size comes from the checkpoint's metadata ("vocab"); the sizes are the tutorial's
(block 8, n_embed 32, 4 heads, 3 layers; step 11: block 256, n_embed 384, 6 heads, 6 layers).
"""

import json
import struct
import sys


def expected_state_dict(step, V):
    big = step == "v11_hyper_params"
    T, C, H, L = (256, 384, 6, 6) if big else (8, 32, 4, 3)
    hs = C // H
    keys = {"token_embedding_table.weight": [V, C]}
    if step != "v1_bigram":
        keys["postion_embedding_table.weight"] = [T, C]  # sic

    def heads(prefix, n, size):
        for h in range(n):
            for part in ("key", "query", "value"):
                keys["%sheads.%d.%s.weight" % (prefix, h, part)] = [size, C]
            keys["%sheads.%d.tril" % (prefix, h)] = [T, T]

    if step == "v3_self_attention":
        for part in ("key", "query", "value"):
            keys["sa_head.%s.weight" % part] = [C, C]
        keys["sa_head.tril"] = [T, T]
    elif step in ("v4_multihead_attention", "v5_feedforward"):
        heads("sa_heads.", H, hs)
        if step == "v5_feedforward":
            keys.update({"ffwd.net.0.weight": [C, C], "ffwd.net.0.bias": [C]})
    elif step in ("v6_block", "v7_residual_connection"):
        for l in range(L):
            heads("blocks.%d.sa." % l, H, hs)
            keys.update({"blocks.%d.ffwd.net.0.weight" % l: [C, C], "blocks.%d.ffwd.net.0.bias" % l: [C]})
    elif step in ("v8_projection", "v9_layer_norm", "v10_dropout", "v11_hyper_params"):
        for l in range(L):
            b = "blocks.%d." % l
            heads(b + "sa.", H, hs)
            keys.update({b + "sa.proj.weight": [C, C], b + "sa.proj.bias": [C],
                         b + "ffwd.net.0.weight": [4 * C, C], b + "ffwd.net.0.bias": [4 * C],
                         b + "ffwd.net.2.weight": [C, 4 * C], b + "ffwd.net.2.bias": [C]})
            if step != "v8_projection":
                for ln in ("ln1", "ln2"):
                    keys.update({b + ln + ".weight": [C], b + ln + ".bias": [C]})
        if step != "v8_projection":
            keys.update({"ln_final.weight": [C], "ln_final.bias": [C]})
    elif step not in ("v1_bigram", "v2_position"):
        raise SystemExit("unknown step " + step)
    keys.update({"lm_head.weight": [V, C], "lm_head.bias": [V]})
    return keys


def main(step, path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    metadata = header.pop("__metadata__", {})
    V = len(metadata["vocab"])
    got = {name: entry["shape"] for name, entry in header.items()}
    want = expected_state_dict(step, V)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = sorted(k for k in set(want) & set(got) if want[k] != got[k])
    if missing or extra or wrong:
        print("%s: missing %s; unexpected %s; wrong shapes %s" % (
            path, missing[:5], extra[:5], ["%s %s (expected %s)" % (k, got[k], want[k]) for k in wrong[:5]]))
        return 1
    print("ok: %s holds exactly %s's %d state_dict entries (vocab %d)" % (path, step, len(want), V))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
