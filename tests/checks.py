"""The tally shared by the Python CLI tests: named checks, the refusal rule, the summary.

A failed check is recorded, not raised, so one run reports every failure; finish() prints
them and exits non-zero when there were any.
"""
import hashlib
import sys

failures = []
passed = 0


def check(name, cond, detail=""):
    global passed
    if cond:
        passed += 1
    else:
        failures.append("%s: %s" % (name, detail))


def refused(name, result, *needles):
    """Bad input: non-zero exit and one line on stderr that names each of `needles`."""
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    check(name + " exits non-zero", result.returncode != 0, "exit %d" % result.returncode)
    check(name + " prints one line", len(lines) == 1, repr(result.stderr))
    for n in needles:
        check(name + " mentions " + n, n in result.stderr, repr(result.stderr))


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def finish(label, note=""):
    print("%s: %d checks passed, %d failed%s" % (label, passed, len(failures), note))
    for f in failures:
        print("FAIL", f)
    sys.exit(1 if failures else 0)
