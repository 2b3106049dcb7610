#!/usr/bin/python3
"""End-to-end test of tools/import_pytorch.py with the babygpt trainer.

  /usr/bin/python3 tests/pytorch/import_pytorch_test.py BABYGPT_BINARY WORK_DIR

Builds reference models (tools/reference_model.py) of a small configuration and of v9's, saves their
state_dicts as the tutorial does, imports them, and checks that babygpt info / sample / train --resume
accept the result, that the weights give PyTorch's logits (tools/check_export.py) and the losses
babygpt evaluates are PyTorch's, and that bad inputs are one `error:` line, exit status 1, no file.
"""

import os
import re
import shutil
import subprocess
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)
import reference_model as rm  # noqa: E402
from safetensors_io import load_file_with_metadata, save_file  # noqa: E402

IMPORTER = os.path.join(TOOLS, "import_pytorch.py")
CHECK_EXPORT = os.path.join(TOOLS, "check_export.py")
PY = "/usr/bin/python3"

failures = []


def check(condition, message, *outputs):
    if condition:
        print("ok: " + message)
    else:
        failures.append(message)
        print("FAIL: " + message)
        for text in outputs:
            print("  | " + "\n  | ".join(text.rstrip().splitlines()))


def run(*cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def importer(*args):
    return run(PY, IMPORTER, *args)


def write_corpus(path, text, bom=False):
    with open(path, "wb") as f:
        f.write((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))


def make_model(vocab_size, cfg, seed):
    """A reference model whose LayerNorms are not at their identity initialisation, so that a LayerNorm
    tensor read from the wrong place changes the logits."""
    torch.manual_seed(seed)
    model = rm.build_model(vocab_size, cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".ln" in name or name.startswith("ln_final"):
                p.add_(0.2 * torch.randn_like(p))
    return model


def train_briefly(model, data, cfg, steps):
    """`steps` AdamW steps of the tutorial's loop (lr 1e-2), so that the model predicts the corpus well."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train, _ = rm.split_data(data)
    for _ in range(steps):
        x, y = rm.get_batch(train, 32, cfg["block_size"])
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()


def write_io(model, vocab_size, block_size, path):
    """An io file for check_export.py: PyTorch's logits and loss on a random batch."""
    idx = torch.randint(vocab_size, (3, block_size))
    targets = torch.randint(vocab_size, (3, block_size))
    model.eval()
    with torch.no_grad():
        logits, loss = model(idx, targets)
    save_file({"input.idx": idx, "input.targets": targets, "output.logits": logits, "output.loss": loss}, path)


def files(directory):
    return sorted(os.listdir(directory))


def expect_error(label, phrase, directory, *args):
    """The importer refuses: exit status 1, one `error:` line naming `phrase`, no traceback, no new file."""
    before = files(directory)
    rc, out, err = importer(*args)
    lines = err.strip().splitlines()
    check(rc == 1 and len(lines) == 1 and lines[0].startswith("error: ") and phrase in lines[0]
          and "Traceback" not in err,
          "%s: exit 1 and one 'error:' line naming '%s'" % (label, phrase), out, err)
    check(files(directory) == before, "%s: no file written or removed" % label, "\n".join(files(directory)))


def import_and_use(babygpt, work, name, cfg, corpus, text, train_steps):
    """Import a model of `cfg`; info, sample, resume, and logits equal to PyTorch's. Returns the checkpoint."""
    vocab = rm.Vocabulary(text)
    model = make_model(len(vocab), cfg, seed=7)
    data = torch.tensor(vocab.encode(text), dtype=torch.long)
    if train_steps:
        train_briefly(model, data, cfg, train_steps)
    pth = os.path.join(work, name + ".pth")
    torch.save(model.state_dict(), pth)
    out = os.path.join(work, name + ".safetensors")
    rc, so, se = importer("--state-dict", pth, "--corpus", corpus, "--out", out, "--step", str(train_steps))
    check(rc == 0 and se == "", name + ": the import succeeds", so, se)
    check("optimizer starts fresh" in so, name + ": the import says that the optimizer starts fresh", so)
    optim = os.path.join(work, name + ".optim.safetensors")
    check(os.path.isfile(out) and os.path.isfile(optim), name + ": the checkpoint and its optimizer file exist")

    # The files: float32 tensors equal to the state_dict's, the metadata babygpt reads.
    tensors, meta = load_file_with_metadata(out)
    sd = model.state_dict()
    check(sorted(tensors) == sorted(sd) and all(torch.equal(tensors[k], sd[k].float()) for k in sd),
          name + ": the checkpoint holds exactly the state_dict's tensors, as float32")
    check(meta["vocab"] == "".join(vocab.chars) and meta["imported_from"] == "pytorch" and meta["data"] == corpus
          and meta["step"] == str(train_steps) and meta["evaluated_step"] == "-1"
          and "generator.batches" not in meta, name + ": metadata (vocab, imported_from, data, step)", str(meta))
    otensors, ometa = load_file_with_metadata(optim)
    nparams = len(list(model.parameters()))
    check(ometa == {"format": "babygpt-optimizer", "run_id": meta["run_id"], "step": str(train_steps)}
          and otensors["steps"].tolist() == [0] * nparams and len(otensors) == 2 * nparams + 1
          and all(float(t.abs().max()) == 0.0 for k, t in otensors.items() if k != "steps"),
          name + ": the optimizer file is a fresh AdamW state of the same run and step", str(ometa))

    # PyTorch's logits from the imported weights.
    io = os.path.join(work, name + ".io.safetensors")
    write_io(model, len(vocab), cfg["block_size"], io)
    rc, so, se = run(PY, CHECK_EXPORT, "--weights", out, "--io", io)
    check(rc == 0 and "PASS" in so, name + ": tools/check_export.py gives PyTorch's logits and loss", so, se)

    rc, so, se = run(babygpt, "info", out)
    check(rc == 0 and re.search(r"vocab size:\s+%d\b" % len(vocab), so) and re.search(r"step:\s+%d\b" % train_steps, so)
          and "none yet (imported from pytorch" in so, name + ": babygpt info reads it", so, se)
    rc, so, se = run(babygpt, "sample", out, "--max-new-tokens", "20")
    check(rc == 0 and so.strip() != "", name + ": babygpt sample writes text", so, se)
    return model, data, out, rc, so


def main():
    babygpt, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    torch.manual_seed(0)
    torch.set_num_threads(1)

    # A corpus of its own: repetitive English and Chinese, so that a briefly trained model predicts it well.
    text = ("the quick brown fox jumps over the lazy dog. " * 30 + "\n" + "春江潮水连海平，海上明月共潮生。\n" * 15) * 2
    corpus = os.path.join(work, "corpus.txt")
    write_corpus(corpus, text)

    # A small configuration (preset "custom").
    small = dict(block_size=6, n_embed=24, n_head=3, n_layer=2, dropout=0.0)
    _, _, out, _, _ = import_and_use(babygpt, work, "small", small, corpus, text, 0)
    rc, so, se = run(babygpt, "info", out)
    check("preset custom" in so, "small: the preset is 'custom'", so)
    rc, so, se = run(babygpt, "train", "--data", corpus, "--resume", out, "--max-iters", "4", "--eval-interval", "2",
                     "--eval-iters", "2", "--sample-tokens", "0")
    check(rc == 0 and "resuming at step 0" in so and "step 3: train loss" in so,
          "small: babygpt train --resume continues the imported checkpoint from step 0", so, se)

    # v9's shapes, trained 150 steps in PyTorch first.
    v9 = {k: rm.PRESETS["v9"][k] for k in ("block_size", "n_embed", "n_head", "n_layer", "dropout")}
    steps = 150
    model, data, out, _, _ = import_and_use(babygpt, work, "v9", v9, corpus, text, steps)
    rc, so, se = run(babygpt, "info", out)
    check("preset v9, batch_size 32, learning_rate 0.01, max_iters 5000" in so, "v9: the preset is v9's", so)
    # babygpt's first evaluation of the imported model is PyTorch's loss (within the noise of 20 random batches).
    train, val = rm.split_data(data)
    torch.manual_seed(1)
    ref = rm.estimate_loss(model, {"train": train, "val": val}, 20, 32, v9["block_size"])
    rc, so, se = run(babygpt, "train", "--data", corpus, "--resume", out, "--max-iters", str(steps + 3),
                     "--eval-interval", "50", "--eval-iters", "20", "--sample-tokens", "0")
    m = re.search(r"^step %d: train loss ([0-9.]+), val loss ([0-9.]+)" % steps, so, re.M)
    check(rc == 0 and m and "step %d: train loss" % (steps + 2) in so,
          "v9: babygpt train --resume evaluates at step %d and trains to %d" % (steps, steps + 3), so, se)
    if m:
        got = (float(m.group(1)), float(m.group(2)))
        uniform = torch.log(torch.tensor(float(len(set(text))))).item()
        print("v9 losses at step %d: babygpt train %.4f val %.4f; PyTorch train %.4f val %.4f; uniform %.4f"
              % (steps, got[0], got[1], ref["train"], ref["val"], uniform))
        check(ref["train"] < 0.6 * uniform, "v9: the PyTorch model has learnt the corpus (loss well below uniform)")
        check(abs(got[0] - ref["train"]) < 0.1 + 0.1 * ref["train"] and abs(got[1] - ref["val"]) < 0.1 + 0.1 * ref["val"],
              "v9: babygpt evaluates the imported model at PyTorch's losses", so)

    # The generator fields are optional only in an imported checkpoint.
    # (small.safetensors was trained on in place above: import its state_dict again.)
    os.makedirs(os.path.join(work, "plain"))
    plain = os.path.join(work, "plain", "small.safetensors")
    rc, so, se = importer("--state-dict", os.path.join(work, "small.pth"), "--corpus", corpus, "--out", plain)
    tensors, meta = load_file_with_metadata(plain)
    del meta["imported_from"]
    save_file(tensors, plain, meta)
    rc, so, se = run(babygpt, "train", "--data", corpus, "--resume", plain, "--max-iters", "6")
    check(rc != 0 and "generator.batches" in se, "a checkpoint not imported still needs its generator states", so, se)

    # Bad inputs.
    bad = os.path.join(work, "bad")
    os.makedirs(bad)
    vocab = rm.Vocabulary(text)
    sd9 = make_model(len(vocab), v9, seed=3).state_dict()
    step8 = os.path.join(bad, "step8.pth")  # step 8: no LayerNorms
    torch.save({k: v for k, v in sd9.items() if ".ln" not in k and not k.startswith("ln_final")}, step8)
    good = os.path.join(bad, "good.pth")
    torch.save(sd9, good)
    out = os.path.join(bad, "out.safetensors")
    expect_error("step-8 state_dict", "Only steps 9-11", bad, "--state-dict", step8, "--corpus", corpus, "--out", out)
    expect_error("step-8 state_dict names what is missing", "missing blocks.0.ln1.weight", bad,
                 "--state-dict", step8, "--corpus", corpus, "--out", out)
    other = os.path.join(bad, "other.txt")
    write_corpus(other, text + "Z")
    expect_error("wrong corpus vocabulary", "has %d distinct characters but the model's token_embedding_table has %d rows"
                 % (len(vocab) + 1, len(vocab)), bad, "--state-dict", good, "--corpus", other, "--out", out)
    not_torch = os.path.join(bad, "text.pth")
    write_corpus(not_torch, "not a torch file")
    expect_error("not a torch file", "not a file written by torch.save", bad,
                 "--state-dict", not_torch, "--corpus", corpus, "--out", out)
    expect_error("--out is the corpus", "would replace the --corpus file", bad,
                 "--state-dict", good, "--corpus", other, "--out", other)
    bom = os.path.join(bad, "bom.txt")
    write_corpus(bom, text, bom=True)
    torch.save(make_model(len(vocab) + 1, v9, seed=3).state_dict(), os.path.join(bad, "tutorial_bom.pth"))
    expect_error("a BOM the tutorial counted", "byte order mark", bad,
                 "--state-dict", os.path.join(bad, "tutorial_bom.pth"), "--corpus", bom, "--out", out)
    # With the corpus's BOM skipped (babygpt's reading, or PyTorch's with encoding="utf-8-sig") it imports.
    rc, so, se = importer("--state-dict", good, "--corpus", bom, "--out", out)
    check(rc == 0 and load_file_with_metadata(out)[1]["vocab"] == "".join(vocab.chars),
          "a corpus with a BOM imports when the model's vocabulary is babygpt's", so, se)
    expect_error("existing --out", "exists; pass --overwrite", bad, "--state-dict", good, "--corpus", corpus, "--out", out)
    rc, so, se = importer("--state-dict", good, "--corpus", corpus, "--out", out, "--overwrite", "--step", "5")
    check(rc == 0 and load_file_with_metadata(out)[1]["step"] == "5", "--overwrite replaces it", so, se)

    if failures:
        print("%d check(s) failed: %s" % (len(failures), "; ".join(failures)))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
