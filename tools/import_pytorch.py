#!/usr/bin/python3
"""Turn a PyTorch tutorial model.pth into a babygpt training checkpoint.

  /usr/bin/python3 tools/import_pytorch.py --state-dict model.pth --corpus input.txt --out model.safetensors

`model.pth` is what the tutorial's `torch.save(model.state_dict(), "model.pth")` writes, for steps 9,
10 or 11 (the only steps with babygpt's architecture: Pre-LN blocks, ln_final). The output is a
checkpoint that `babygpt sample` and `babygpt train --resume` accept, plus its optimizer file
(`<out stem>.optim.safetensors`), a fresh AdamW state: a state_dict holds no optimizer state.

The vocabulary is rebuilt from the corpus as the tutorial builds it (sorted(set(text))), and must be
the one `babygpt train --data corpus` computes and have as many characters as the embedding has rows.
The configuration comes from the tensor shapes; dropout is not in them (--dropout). The checkpoint has
no babygpt random-generator states: its metadata says imported_from = pytorch, and a resumed run draws
its batches and dropout masks as a new run with the same seed would.

Every bad input is one line `error: ...` on stderr and exit status 1; no file is left behind.
"""

import argparse
import inspect
import math
import os
import secrets
import shlex
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# The training settings of the reference presets (reference_model.PRESETS holds the same numbers; they
# are repeated here so that a failing torch import can still be reported as one line).
PRESETS = {
    "v9": dict(batch_size=32, block_size=8, n_embed=32, n_head=4, n_layer=3, dropout=0.0,
               learning_rate=1e-2, max_iters=5000, eval_interval=200, eval_iters=100),
    "v11": dict(batch_size=64, block_size=256, n_embed=384, n_head=6, n_layer=6, dropout=0.2,
                learning_rate=3e-4, max_iters=5000, eval_interval=200, eval_iters=100),
}
SHAPE_KEYS = ("block_size", "n_embed", "n_head", "n_layer")
DEFAULT_SEED = 42
DEFAULT_TRAIN_RATIO = 0.9
SHOWN = 4  # names listed in an error before "and N more"


class BadInput(Exception):
    """A bad input: its message is printed as `error: <message>`."""


def fail(*parts):
    raise BadInput("".join(str(p) for p in parts))


def some(names):
    """At most SHOWN names, then 'and N more'."""
    names = list(names)
    text = ", ".join(names[:SHOWN])
    return text + (", and %d more" % (len(names) - SHOWN) if len(names) > SHOWN else "")


def real_text(value):
    """A double as C++'s ostream with precision 17 writes it (what babygpt's save_checkpoint stores)."""
    return "%.17g" % value


# ---------------------------------------------------------------- the corpus and its vocabulary

def read_corpus(path):
    """(vocabulary babygpt computes, vocabulary the tutorial computes) of the file at `path`.

    The tutorial reads `open(path, encoding="utf-8").read()`: strict UTF-8, a byte order mark kept as
    U+FEFF, and universal newlines ("\\r\\n" and "\\r" read as "\\n"). babygpt's trainer reads the bytes:
    it skips a byte order mark at the very start and keeps every "\\r". The two agree on most files.
    """
    if not os.path.exists(path):
        fail(path, ": no such corpus file; pass the text the model was trained on with --corpus")
    if not os.path.isfile(path):
        fail(path, ": not a regular file; pass the text the model was trained on with --corpus")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        fail(path, ": cannot read the corpus (", exc.strerror or exc, ")")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(path, ": not UTF-8 text (invalid byte at offset ", exc.start,
             "); convert the corpus to UTF-8, e.g. iconv -f GB18030 -t UTF-8")
    babygpt_text = text[1:] if text.startswith("\ufeff") else text
    if not babygpt_text:
        fail(path, ": the corpus is empty; pass the text the model was trained on")
    tutorial_text = text.replace("\r\n", "\n").replace("\r", "\n")
    return sorted(set(babygpt_text)), sorted(set(tutorial_text)), text


def choose_vocabulary(corpus_path, vocab_size, corpus):
    """The vocabulary to store: babygpt's, which must have vocab_size characters."""
    babygpt_chars, tutorial_chars, text = corpus
    if len(babygpt_chars) == vocab_size:
        return babygpt_chars
    if len(tutorial_chars) == vocab_size:
        # The model was trained on the tutorial's reading of this file, which babygpt cannot reproduce.
        reasons, fixes = [], []
        if text.startswith("\ufeff") and "\ufeff" not in text[1:]:
            reasons.append("it starts with a byte order mark, which Python reads as the character U+FEFF "
                           "and babygpt skips")
            fixes.append("remove the byte order mark (sed -i '1s/^\\xEF\\xBB\\xBF//' %s)" % shlex.quote(corpus_path))
        if "\r" in text:
            reasons.append("it has \\r line endings, which Python's text mode reads as \\n and babygpt keeps")
            fixes.append("convert the line endings (dos2unix %s)" % shlex.quote(corpus_path))
        fix = " and ".join(fixes)
        fix = fix[:1].upper() + fix[1:] + ", then train" if fix else "Train"
        fail(corpus_path, ": babygpt reads this corpus as ", len(babygpt_chars),
             " characters but the model has ", vocab_size, " embedding rows, the tutorial's count: ",
             "; ".join(reasons) or "the two readings differ", ". ", fix,
             " the PyTorch model on a file both programs read alike, and import that")
    fail(corpus_path, ": the corpus has ", len(babygpt_chars), " distinct characters but the model's "
         "token_embedding_table has ", vocab_size, " rows; pass with --corpus the exact text the model was "
         "trained on")


# ---------------------------------------------------------------- the state_dict

def load_state_dict(path, torch):
    if not os.path.exists(path):
        fail(path, ": no such file; pass the file written by torch.save(model.state_dict(), path)")
    if not os.path.isfile(path):
        fail(path, ": not a regular file; pass the file written by torch.save(model.state_dict(), path)")
    kwargs = {"map_location": "cpu"}
    # weights_only (torch >= 1.13) unpickles tensors and containers only: a file from elsewhere cannot run code.
    if "weights_only" in inspect.signature(torch.load).parameters:
        kwargs["weights_only"] = True
    try:
        obj = torch.load(path, **kwargs)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, KeyError, EOFError, ... for foreign files
        message = " ".join(str(exc).split())
        if "Unsupported class" in message:  # weights_only refused a pickled object, e.g. torch.save(model)
            what = message[message.index("Unsupported class") + len("Unsupported class"):].strip()
            fail(path, ": holds pickled objects besides tensors (", what or "a class",
                 "), e.g. a whole model; save the weights alone with torch.save(model.state_dict(), path)")
        fail(path, ": not a file written by torch.save (torch.load raised ", type(exc).__name__,
             "); pass the file written by torch.save(model.state_dict(), path)")
    if not isinstance(obj, dict):
        fail(path, ": holds a ", type(obj).__name__, ", not a state_dict; save it with "
             "torch.save(model.state_dict(), path)")
    not_tensors = [str(k) for k, v in obj.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if not_tensors:
        fail(path, ": not a state_dict (", some(not_tensors), " ",
             "is not a tensor" if len(not_tensors) == 1 else "are not tensors",
             "); if it is a checkpoint dictionary, save its model.state_dict() alone")
    return obj


def count_indices(keys, prefix):
    """How many consecutive N have keys starting with prefix + "N."."""
    n = 0
    while any(k.startswith("%s%d." % (prefix, n)) for k in keys):
        n += 1
    return n


def expected_shapes(V, T, C, H, L):
    """Every tensor of the state_dict of steps 9-11, with its shape (as tools/reference_model.py has them)."""
    hs = C // H if H else 0
    shapes = {"token_embedding_table.weight": (V, C), "postion_embedding_table.weight": (T, C)}
    for l in range(L):
        b = "blocks.%d." % l
        for h in range(H):
            head = b + "sa.heads.%d." % h
            for name in ("key.weight", "query.weight", "value.weight"):
                shapes[head + name] = (hs, C)
            shapes[head + "tril"] = (T, T)
        shapes.update({b + "sa.proj.weight": (C, C), b + "sa.proj.bias": (C,),
                       b + "ffwd.net.0.weight": (4 * C, C), b + "ffwd.net.0.bias": (4 * C,),
                       b + "ffwd.net.2.weight": (C, 4 * C), b + "ffwd.net.2.bias": (C,),
                       b + "ln1.weight": (C,), b + "ln1.bias": (C,), b + "ln2.weight": (C,), b + "ln2.bias": (C,)})
    shapes.update({"ln_final.weight": (C,), "ln_final.bias": (C,), "lm_head.weight": (V, C), "lm_head.bias": (V,)})
    return shapes


def config_from_state_dict(path, sd, torch):
    """(vocab_size, block_size, n_embed, n_head, n_layer), with every key and shape checked."""
    keys = list(sd)

    def dim(key, axis):
        t = sd.get(key)
        return int(t.shape[axis]) if t is not None and t.dim() > axis else 0

    V, C = dim("token_embedding_table.weight", 0), dim("token_embedding_table.weight", 1)
    T = dim("postion_embedding_table.weight", 0)
    L = count_indices(keys, "blocks.")
    H = count_indices(keys, "blocks.0.sa.heads.")
    # With no blocks (steps 1-5) the names of one block and one head are what is missing.
    expected = expected_shapes(V, T, C, max(H, 1), max(L, 1))
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in keys if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("missing " + some(missing))
        if unexpected:
            parts.append("unexpected " + some(unexpected))
        hint = ""
        if keys and all(k.startswith("module.") for k in keys):
            hint = " (its names start with 'module.': save model.module.state_dict() instead)"
        fail(path, ": not the state_dict of tutorial steps 9-11 (", "; ".join(parts), ")", hint,
             ". Only steps 9-11 (Pre-LN blocks with ln1, ln2 and ln_final) have babygpt's architecture; "
             "import the state_dict of such a model")
    if C % H != 0:
        fail(path, ": n_embed ", C, " is not divisible by its ", H, " attention heads; babygpt needs "
             "head_size = n_embed / n_head (train the PyTorch model with such a configuration)")
    wrong = ["%s is %s, expected %s" % (k, tuple(sd[k].shape), shape)
             for k, shape in expected.items() if tuple(sd[k].shape) != shape]
    if wrong:
        fail(path, ": inconsistent shapes for vocab_size ", V, ", block_size ", T, ", n_embed ", C, ", n_head ",
             H, ", n_layer ", L, ": ", some(wrong), "; the file is not a model of the tutorial's architecture")
    not_float = ["%s (%s)" % (k, str(sd[k].dtype).replace("torch.", "")) for k in expected
                 if not sd[k].is_floating_point()]
    if not_float:
        fail(path, ": tensors that are not floating point: ", some(not_float), "; save the float model's state_dict")
    tril = torch.tril(torch.ones(T, T))
    altered = [k for k in expected if k.endswith(".tril") and not torch.equal(sd[k].float(), tril)]
    if altered:
        fail(path, ": ", some(altered), " not lower-triangular ones (babygpt always masks causally); "
             "import a model whose tril buffers are as the tutorial registers them")
    nonfinite = [k for k in expected if not bool(torch.isfinite(sd[k]).all())]
    if nonfinite:
        fail(path, ": NaN or infinite values in ", some(nonfinite), "; the model diverged, import an earlier one")
    return V, T, C, H, L


# ---------------------------------------------------------------- output

def run_paths(out):
    """babygpt's RunPaths of the checkpoint `out`: (optimizer file, metrics CSV, loss plot), named after
    its stem (the name without its last extension, as std::filesystem::path::stem and os.path.splitext)."""
    directory, name = os.path.split(out)
    stem = os.path.join(directory, os.path.splitext(name)[0])
    return stem + ".optim.safetensors", stem + ".csv", stem + ".svg"


def same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def write_atomically(path, tensors, metadata, save_file):
    """Into a temporary file next to `path`, flushed to disk; returns the temporary name."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".tmp.")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


class Parser(argparse.ArgumentParser):
    def error(self, message):
        """A wrong command line is one line and exit status 1 too, as every other bad input."""
        self.exit(1, "error: %s (see --help)\n" % message)


def parse_args(argv):
    p = Parser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state-dict", required=True, help="the .pth file of torch.save(model.state_dict(), ...)")
    p.add_argument("--corpus", required=True, help="the UTF-8 text the model was trained on (stored as 'data')")
    p.add_argument("--out", required=True, help="the checkpoint to write, e.g. runs/imported.safetensors")
    p.add_argument("--overwrite", action="store_true", help="replace --out and its optimizer file if they exist")
    p.add_argument("--dropout", type=float, help="the model's dropout (default: v9's 0.0 or v11's 0.2 when "
                   "the shapes are that preset's, else 0.0)")
    p.add_argument("--step", type=int, default=0, help="steps the PyTorch model was trained for (default 0)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--max-iters", type=int)
    p.add_argument("--eval-interval", type=int)
    p.add_argument("--eval-iters", type=int)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--train-ratio", type=float, default=DEFAULT_TRAIN_RATIO)
    p.epilog = "The training options default to the preset whose shapes match (v9 for any other shape)."
    return p.parse_args(argv)


def check_options(args):
    for name in ("batch_size", "max_iters", "eval_interval", "eval_iters"):
        value = getattr(args, name)
        if value <= 0:
            fail("--", name.replace("_", "-"), " must be a positive integer, got ", value)
    if args.step < 0:
        fail("--step must be 0 or positive (the steps the PyTorch model was trained for), got ", args.step)
    if not 0 <= args.seed < 2 ** 64:
        fail("--seed must be in [0, 2^64), got ", args.seed)
    if not (0.0 <= args.dropout < 1.0):
        fail("--dropout must be in [0, 1), got ", args.dropout)
    if not (0.0 < args.learning_rate < 10.0):
        fail("--learning-rate must be positive (and below 10), got ", args.learning_rate)
    if not (0.0 < args.train_ratio < 1.0):
        fail("--train-ratio must be between 0 and 1, got ", args.train_ratio)


def run(args):
    out = args.out
    opt, csv, svg = run_paths(out)
    # Every check on the paths comes before the (possibly slow) loading.
    if os.path.isdir(out):
        fail("--out ", out, ": is a directory; pass the checkpoint file to write, e.g. --out ",
             os.path.join(out, "model.safetensors"))
    for given, option in ((args.corpus, "--corpus"), (args.state_dict, "--state-dict")):
        for written in (out, opt):
            if os.path.exists(given) and same_file(written, given):
                fail(written, " would replace the ", option, " file ", given, "; pass another --out")
    if not args.overwrite:
        for written in (out, opt):
            if os.path.lexists(written):
                fail(written, " exists; pass --overwrite to replace it, or another --out")
        # A resumed run would take an earlier run's metrics and plot next to --out for its own.
        for earlier in (csv, svg):
            if os.path.lexists(earlier):
                fail(earlier, " exists (of an earlier run?); pass --overwrite to replace it, or another --out")
    directory = os.path.dirname(out) or "."
    if not os.path.isdir(directory):
        fail("--out ", out, ": the directory ", directory, " does not exist; create it first")

    corpus = read_corpus(args.corpus)

    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - any failure to import is reported as one line
        fail("cannot import torch (", exc, "); run the tool with /usr/bin/python3, which has it")
    from safetensors_io import save_file

    sd = load_state_dict(args.state_dict, torch)
    V, T, C, H, L = config_from_state_dict(args.state_dict, sd, torch)
    chars = choose_vocabulary(args.corpus, V, corpus)

    shapes = dict(block_size=T, n_embed=C, n_head=H, n_layer=L)
    shape_preset = next((name for name, p in PRESETS.items() if all(p[k] == shapes[k] for k in SHAPE_KEYS)), None)
    defaults = PRESETS[shape_preset or "v9"]
    if args.dropout is None:
        args.dropout = defaults["dropout"] if shape_preset else 0.0
    for name in ("batch_size", "learning_rate", "max_iters", "eval_interval", "eval_iters"):
        if getattr(args, name) is None:
            setattr(args, name, defaults[name])
    check_options(args)
    preset = shape_preset if shape_preset and args.dropout == defaults["dropout"] else "custom"

    tensors = {k: sd[k].detach().to(torch.float32).contiguous() for k in expected_shapes(V, T, C, H, L)}
    run_id = secrets.token_hex(8)
    metadata = {
        "vocab_size": str(V), "block_size": str(T), "n_embed": str(C), "n_head": str(H), "n_layer": str(L),
        "dropout": real_text(args.dropout),
        "format": "babygpt-checkpoint", "format_version": "1",
        "vocab": "".join(chars),
        "step": str(args.step), "evaluated_step": "-1", "run_id": run_id, "data": args.corpus,
        "train_loss": real_text(math.nan), "val_loss": real_text(math.nan),
        # No "generator.batches" / "generator.dropout": babygpt's std::mt19937_64 states do not exist yet;
        # a resumed run starts them as a new run with this seed would.
        "imported_from": "pytorch",
        "train.preset": preset, "train.batch_size": str(args.batch_size),
        "train.learning_rate": real_text(args.learning_rate), "train.max_iters": str(args.max_iters),
        "train.eval_interval": str(args.eval_interval), "train.eval_iters": str(args.eval_iters),
        "train.train_ratio": real_text(args.train_ratio), "train.seed": str(args.seed),
    }
    # A fresh AdamW state is zeros with step 0; one entry per parameter (the tril buffers are not parameters).
    params = [k for k in tensors if not k.endswith(".tril")]
    optim = {}
    for k in params:
        optim["exp_avg." + k] = torch.zeros_like(tensors[k])
        optim["exp_avg_sq." + k] = torch.zeros_like(tensors[k])
    optim["steps"] = torch.zeros(len(params), dtype=torch.int64)
    optim_metadata = {"format": "babygpt-optimizer", "run_id": run_id, "step": str(args.step)}

    temporaries = []
    try:
        temporaries.append(write_atomically(opt, optim, optim_metadata, save_file))
        temporaries.append(write_atomically(out, tensors, metadata, save_file))
        os.replace(temporaries[0], opt)
        temporaries[0] = opt  # removed if the model file cannot be put in place
        os.replace(temporaries[1], out)
    except BaseException as exc:  # an interruption too: no temporary file or lone optimizer file is left
        for tmp in temporaries:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if not isinstance(exc, OSError):
            raise
        fail(out, ": cannot write the checkpoint (", exc.strerror or exc, "); check the disk space and "
             "permissions of ", directory)

    for earlier in (csv, svg):  # only with --overwrite: the replaced run's metrics are not this model's
        try:
            os.unlink(earlier)
        except OSError:
            pass

    parameters = sum(tensors[k].numel() for k in params)
    print("imported %s: vocab_size %d, block_size %d, n_embed %d, n_head %d, n_layer %d, dropout %g "
          "(%d parameters); preset %s, step %d" % (args.state_dict, V, T, C, H, L, args.dropout, parameters,
                                                   preset, args.step))
    print("the optimizer starts fresh (%s: zeros, step 0): a state_dict holds no optimizer state" % opt)
    print("wrote %s; continue with: babygpt train --data %s --resume %s --max-iters %d"
          % (out, args.corpus, out, max(args.max_iters, args.step + 1)))
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except BadInput as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
