#!/usr/bin/python3
"""`mpirun -n 2 qbench sweep --mpi` gives the same cells, with the same results, as a local run.
Run by CTest (only when CMake found MPI):
    tests/sweep_mpi_test.py build/qbench mpirun
"""
import os
import subprocess
import sys
import tempfile

from checks import asan_instrumented, check, finish, summary, synthetic_sweep, write

QBENCH, MPIRUN = os.path.abspath(sys.argv[1]), sys.argv[2]
CONFIG = synthetic_sweep("mpi-test", seeds=[1], fp32={"epochs": 1, "lr": 0.05},
                         methods=[{"name": "fp32", "wbits": 32, "abits": 32},
                                  {"name": "minmax"}])

with tempfile.TemporaryDirectory() as tmp:
    cfg = write(os.path.join(tmp, "sweep.json"), CONFIG)
    local, mpi = os.path.join(tmp, "local"), os.path.join(tmp, "mpi")
    runs = [
        [QBENCH, "sweep", cfg, "--out", local, "--threads", "1", "--quiet"],
        [MPIRUN, "-n", "2", "--allow-run-as-root", "--oversubscribe", QBENCH, "sweep", cfg,
         "--out", mpi, "--threads", "1", "--quiet", "--mpi"],
    ]
    env = dict(os.environ)
    if asan_instrumented(QBENCH):
        # OpenMPI dlopens its components and dlcloses them in MPI_Finalize, so the leaks made
        # inside them (tests/lsan.supp) end their fast-unwound stacks in "<unknown module>",
        # which no suppression can name. Full unwinding reaches libmpi's frames, still loaded.
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":fast_unwind_on_malloc=0"
    for cmd in runs:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=280, env=env)
        check(cmd[0] + " sweep", r.returncode == 0,
              "exit %d: %s" % (r.returncode, r.stderr[-2000:]))
    for d in (local, mpi):
        r = subprocess.run([QBENCH, "merge", d, "-o", d + ".h5"], capture_output=True, text=True)
        check("merge " + d, r.returncode == 0, r.stderr)
    if os.path.exists(local + ".h5") and os.path.exists(mpi + ".h5"):
        a = {k: r["test_acc"] for k, r in summary(local + ".h5").items()}
        b = {k: r["test_acc"] for k, r in summary(mpi + ".h5").items()}
        check("the local run has 3 cells", len(a) == 3, sorted(a))
        check("MPI cells equal the local run's", a == b, "%s vs %s" % (a, b))

finish("sweep_mpi_test")
