"""Waiting for a quiet machine before a timed call, and saying how quiet it was.

On a shared 2-core machine one compile next door moves a benchmark by 15-50%. The benchmark
scripts (scripts/bench-native.py, scripts/bench-vs-wllama.py, Tests/browser/bench.py) call
`wait_for_quiet()` before every timed call: it returns once the CPUs were nearly idle for a few
seconds (busy cores from /proc/stat, which answers at once) and the 1-minute load average is
below a threshold (which catches sustained load), or when the timeout ran out (then the call
runs anyway and the record says so). `load_note()` sums the records up for a table's caption.
"""

import os
import time


def _busy_ticks():
    with open('/proc/stat') as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + (fields[7] if len(fields) > 7 else 0)
    return busy, time.monotonic()


def busy_cores(seconds=1.0):
    """Cores kept busy (by anything) over the next `seconds`."""
    ticks0, t0 = _busy_ticks()
    time.sleep(seconds)
    ticks1, t1 = _busy_ticks()
    return (ticks1 - ticks0) / os.sysconf('SC_CLK_TCK') / (t1 - t0)


def wait_for_quiet(max_busy=0.25, max_load=None, window=3.0, timeout=300.0, log=None):
    """Blocks until the CPUs were less than `max_busy` cores busy for `window` seconds and the
    1-minute load average is below `max_load` (default: the number of CPUs; the average lags by
    a minute and includes the benchmark's own previous call, so it only catches sustained load),
    or `timeout` seconds passed. Returns a record: {quiet, waited, busy, load} (busy over the
    last window, load average at the end)."""
    max_load = max_load if max_load is not None else float(os.cpu_count() or 1)
    start = time.monotonic()
    samples = []  # (busy cores over ~0.5 s)
    told = False
    while True:
        samples.append(busy_cores(0.5))
        recent = samples[-max(1, int(window / 0.5)):]
        busy = sum(recent) / len(recent)
        load = os.getloadavg()[0]
        waited = time.monotonic() - start
        if len(recent) * 0.5 >= window and busy < max_busy and load < max_load:
            return {'quiet': True, 'waited': waited, 'busy': busy, 'load': load}
        if waited > timeout:
            if log:
                log(f'not quiet after {waited:.0f} s (busy {busy:.2f} cores, load average {load:.2f}): measuring anyway')
            return {'quiet': False, 'waited': waited, 'busy': busy, 'load': load}
        if log and not told and waited > 10:
            log(f'waiting for a quiet machine (busy {busy:.2f} cores, load average {load:.2f})...')
            told = True


def load_note(records):
    """One line for a table's caption: the load before the calls, and how many were not quiet."""
    if not records:
        return 'load: not measured'
    loads = [r['load'] for r in records]
    busy = [r['busy'] for r in records]
    noisy = sum(not r['quiet'] for r in records)
    waited = sum(r['waited'] for r in records)
    note = (f'before each of {len(records)} timed calls: load average {min(loads):.2f}–{max(loads):.2f}, '
            f'CPUs busy {min(busy):.2f}–{max(busy):.2f} cores over the last seconds; waited {waited:.0f} s in all')
    if noisy:
        note += f'; {noisy} call(s) ran on a busy machine after the timeout'
    return note
