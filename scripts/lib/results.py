"""What the scripts that write docs/results/ share: the machine's facts, running vitrim, medians and ranges.

Each such script measures into docs/results/NAME.json (the raw output of every vitrim command it ran, with the
command and the machine) and writes docs/results/NAME.md from that file alone; `--page` rewrites the page from the
committed JSON without measuring anything.
"""
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results"


def page_only(argv):
    """True when the script was called with --page (rewrite the Markdown from the committed JSON only)."""
    return "--page" in argv[1:]


def machine():
    """The processor, its vector extensions, the core count and the load average now."""
    cpu = "unknown processor"
    flags = set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and cpu == "unknown processor":
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags.update(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ["avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8"]
    return {"cpu": cpu, "cores": os.cpu_count(), "flags": [f for f in wanted if f in flags], "load": load()}


def quiet_start(wait=240):
    """machine(), after waiting up to WAIT seconds for the 1-minute load average to fall below half the cores: the
    load of work that has just ended (an earlier measurement, a training run) lingers in it for a minute or two."""
    cores = os.cpu_count() or 1
    t0 = time.monotonic()
    if float(load().split()[0]) >= cores / 2:
        print(f"waiting up to {wait} s for the load average ({load()}) to settle before measuring", file=sys.stderr,
              flush=True)
    while float(load().split()[0]) >= cores / 2 and time.monotonic() - t0 < wait:
        time.sleep(5)
    return machine()


def load():
    """The 1, 5 and 15 minute load averages as one string."""
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "unknown"


def vitrim(args, env=None):
    """Runs ./vitrim ARGS (which must ask for --json) and returns {command, seconds, output}: output is the parsed
    JSON. The command's stderr passes through; a failure stops the script with the command named."""
    cmd = ["./vitrim"] + [str(a) for a in args]
    shown = " ".join(([f"{k}={v}" for k, v in (env or {}).items()]) + cmd)
    print(f"== {shown}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, **(env or {})}, text=True)
    if p.returncode != 0:
        sys.exit(f"{Path(sys.argv[0]).name}: `{shown}` failed with exit status {p.returncode}")
    try:
        out = json.loads(p.stdout)
    except ValueError:
        sys.exit(f"{Path(sys.argv[0]).name}: `{shown}` printed no JSON")
    return {"command": shown, "seconds": round(time.monotonic() - t0, 1), "output": out}


def save(name, doc):
    """Writes docs/results/NAME.json."""
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)


def read(name):
    """Reads docs/results/NAME.json, or stops with the command that makes it."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        sys.exit(f"{path.relative_to(ROOT)} not found: run the script without --page to measure it")
    return json.loads(path.read_text())


def write_page(name, lines):
    """Writes docs/results/NAME.md."""
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)


def med(xs):
    return statistics.median(list(xs))


def med_range(xs, fmt="%.2f"):
    """'median (min–max)', or the value alone when there is one."""
    xs = list(xs)
    if len(xs) == 1:
        return fmt % xs[0]
    return f"{fmt % med(xs)} ({fmt % min(xs)}–{fmt % max(xs)})"


def machine_line(m, before, after):
    """One sentence naming the machine and the load around the runs, with a warning when other work was running."""
    flags = ", ".join(m["flags"]) or "no AVX2"
    s = (f"Machine: {m['cpu']}, {m['cores']} cores ({flags}); load average (1, 5, 15 min) {before} before the runs, "
         f"{after} after.")
    if float(before.split()[0]) > m["cores"] / 2:
        s += (" Other work was running when the runs began: read the ratios within a run (measured interleaved) "
              "rather than the absolute times.")
    return s


def commit():
    """The commit the measurements were made at (with '+changes' when the tree differed)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return head + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
