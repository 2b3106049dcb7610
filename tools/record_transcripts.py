#!/usr/bin/env python3
"""Re-record the README's terminal transcripts from real runs of the trainer.

    tools/record_transcripts.py [--build-dir build] [--data-dir data/downloads] [--readme README.md]
    tools/record_transcripts.py --check [--readme README.md]

Each transcript in README.md sits between `<!-- transcript: NAME -->` and `<!-- /transcript -->`.
This script runs the commands of every transcript (listed below, the only place they are written)
and replaces the text between the markers with what they printed, followed by one line naming the
commit and the machine the run came from. Long training logs keep their first and last evaluations.

The commands run in a scratch directory where `data/downloads` points at --data-dir and `babygpt`
is the trainer of --build-dir, so the transcripts show the paths a user types after
`data/download.sh`, and no file of the repository is touched except the README.

--check only compares the `$ ` command lines of the README's transcripts with the list below (a
quick test that the two have not drifted apart); it runs nothing.

Needs only Python 3 and a built trainer (`cmake --build build --target babygpt_cli`). A full run
trains the v9 preset on both corpora: about two minutes on a 2-core machine.
"""

import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile

# Every transcript: its name in the README markers, the commands it runs (in order, in one scratch
# directory shared by all transcripts, so a later one can use an earlier one's checkpoint), and how
# many evaluation lines of a training log it keeps at each end (None: the whole output).
TRANSCRIPTS = [
    ("train-tinyshakespeare", ["babygpt train --data data/downloads/tinyshakespeare.txt"], 3),
    ("train-songci",
     ["babygpt train --data data/downloads/songci.txt --seed 42 --out runs/songci42.safetensors"], 3),
    ("sample", ['babygpt sample runs/tinyshakespeare.safetensors --prompt "ROMEO:" --max-new-tokens 120 --seed 7',
                'babygpt sample runs/tinyshakespeare.safetensors --prompt "春江"'], None),
    ("info", ["babygpt info runs/songci42.safetensors"], None),
]
CORPORA = ["tinyshakespeare.txt", "songci.txt"]

BLOCK = re.compile(r"(<!-- transcript: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /transcript -->)", re.S)
STEP_LINE = re.compile(r"^step \d+: ")


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def readme_blocks(text):
    return {m.group("name"): m for m in BLOCK.finditer(text)}


def elide(lines, keep):
    """Keeps the first and last `keep` evaluation lines of a training log, with '...' between."""
    steps = [i for i, line in enumerate(lines) if STEP_LINE.match(line)]
    if keep is None or len(steps) <= 2 * keep + 1:
        return lines
    return lines[: steps[keep]] + ["..."] + lines[steps[-keep]:]


def run_transcript(commands, keep, scratch, env):
    lines = []
    for command in commands:
        result = subprocess.run(["bash", "-c", command], cwd=scratch, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        output = result.stdout.decode("utf-8", errors="replace")
        lines.append("$ " + command)
        lines.extend(elide(output.splitlines(), keep))
    return lines


def machine_description():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = " ".join(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} core{'s' if cores != 1 else ''}"


def commit_description(root):
    def git(*args):
        return subprocess.run(["git", "-C", root, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              check=False).stdout.decode().strip()
    commit = git("rev-parse", "--short", "HEAD") or "no commit"
    dirty = subprocess.run(["git", "-C", root, "diff", "--quiet", "HEAD", "--", "include", "examples"],
                           stderr=subprocess.DEVNULL, check=False).returncode != 0
    return commit + (" with uncommitted changes to the code" if dirty else "")


def check(readme_text):
    blocks = readme_blocks(readme_text)
    status = 0
    for name, commands, _ in TRANSCRIPTS:
        if name not in blocks:
            print(f"FAIL: README has no transcript '{name}' (<!-- transcript: {name} --> ... <!-- /transcript -->)")
            status = 1
            continue
        shown = [line[2:] for line in blocks[name].group("body").splitlines() if line.startswith("$ ")]
        if shown != commands:
            print(f"FAIL: transcript '{name}' shows {shown}, the script runs {commands}")
            status = 1
        else:
            print(f"ok: transcript '{name}'")
    for name in blocks:
        if name not in [t[0] for t in TRANSCRIPTS]:
            print(f"FAIL: README transcript '{name}' is not one this script records")
            status = 1
    return status


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(root, "build"))
    parser.add_argument("--data-dir", default=os.environ.get("BABYGPT_DATA_DIR", os.path.join(root, "data", "downloads")))
    parser.add_argument("--readme", default=os.path.join(root, "README.md"))
    parser.add_argument("--check", action="store_true", help="compare the README's commands with this script's")
    args = parser.parse_args()

    try:
        with open(args.readme, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        fail(f"{args.readme}: cannot read the README ({e.strerror})")
    if args.check:
        sys.exit(check(text))

    trainer = os.path.abspath(os.path.join(args.build_dir, "babygpt"))
    if not os.access(trainer, os.X_OK):
        fail(f"{trainer}: no trainer there; build it with 'cmake --build {args.build_dir} --target babygpt_cli' "
             "or pass --build-dir")
    data_dir = os.path.abspath(args.data_dir)
    for corpus in CORPORA:
        if not os.path.isfile(os.path.join(data_dir, corpus)):
            fail(f"{os.path.join(data_dir, corpus)}: missing; run data/download.sh or pass --data-dir")
    blocks = readme_blocks(text)
    missing = [name for name, _, _ in TRANSCRIPTS if name not in blocks]
    if missing:
        fail(f"{args.readme}: no transcript markers for {', '.join(missing)}; add "
             "'<!-- transcript: NAME -->' ... '<!-- /transcript -->' around each")

    footer = (f"<sub>Recorded by `tools/record_transcripts.py` on {datetime.date.today().isoformat()} at commit "
              f"{commit_description(root)}; {machine_description()}.</sub>")
    with tempfile.TemporaryDirectory(prefix="babygpt-transcripts-") as scratch:
        os.makedirs(os.path.join(scratch, "data"))
        os.symlink(data_dir, os.path.join(scratch, "data", "downloads"))
        bin_dir = os.path.join(scratch, "bin")
        os.makedirs(bin_dir)
        os.symlink(trainer, os.path.join(bin_dir, "babygpt"))
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
        recorded = {}
        for name, commands, keep in TRANSCRIPTS:
            print(f"recording {name} ...", flush=True)
            lines = run_transcript(commands, keep, scratch, env)
            recorded[name] = "```text\n" + "\n".join(lines) + "\n```\n\n" + footer + "\n"

    updated = BLOCK.sub(lambda m: m.group(1) + recorded[m.group("name")] + m.group(4)
                        if m.group("name") in recorded else m.group(0), text)
    temporary = args.readme + ".tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(updated)
    os.replace(temporary, args.readme)
    print(f"updated {len(recorded)} transcripts in {args.readme}")


if __name__ == "__main__":
    main()
