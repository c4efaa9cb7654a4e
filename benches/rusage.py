"""Run a command; print its wall time and peak RSS as one JSON line on stderr (last line).

    python3 benches/rusage.py CMD [ARGS...]

The command's own stdout and stderr pass through. Used by benches/bench.mjs for the native rows
(peak RSS of an upload: row 6)."""
import json
import resource
import subprocess
import sys
import time

t0 = time.perf_counter()
code = subprocess.call(sys.argv[1:])
seconds = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.flush()
print(json.dumps({"code": code, "seconds": seconds, "maxrss_kib": usage.ru_maxrss}), file=sys.stderr)
sys.exit(code)
