"""Whether anything else used the CPU while a run was measured, and waiting until nothing does.

On a 2-core machine llama.cpp's threads spin at their barriers: a second process decoding at
the same time (a test suite, another benchmark) does not cost a share, it slows both by 10x
or more. So every run is measured on a machine seen quiet just before, its "other CPU" (busy
cores from /proc/stat, less this process and the server it measures) is recorded, and a run
that others disturbed is run again.
"""
import os
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

TICKS = os.sysconf("SC_CLK_TCK")
QUIET_BELOW = 0.15  # cores used by others: kernel threads and idle daemons stay below this
DISTURBED_ABOVE = 0.25  # a run whose others used more than this is not trusted
QUIET_WINDOW_S = 0.3
QUIET_WAIT_S = 120.0
ATTEMPTS = 3


def machine_busy_seconds() -> float:
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / TICKS


def process_seconds(pid: int | str) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # After the command name (in parentheses, which may hold spaces): utime is the
            # 12th field, stime the 13th.
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0  # the process has ended
    return (int(fields[11]) + int(fields[12])) / TICKS


class CpuMonitor:
    """Cores that other processes kept busy between start() and stop()."""

    def __init__(self, own_pids: Iterable[int] = ()) -> None:
        self.pids = ["self", *own_pids]

    def _sample(self) -> tuple[float, float, float]:
        ours = sum(process_seconds(pid) for pid in self.pids)
        return time.perf_counter(), machine_busy_seconds(), ours

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> float:
        (t0, busy0, ours0), (t1, busy1, ours1) = self._start, self._sample()
        if t1 - t0 <= 0:
            return 0.0
        return max(0.0, (busy1 - busy0) - (ours1 - ours0)) / (t1 - t0)


def wait_for_quiet(own_pids: Iterable[int] = (), *, report: Callable[[str], None]) -> float:
    """Wait until others use under QUIET_BELOW cores (at most QUIET_WAIT_S); return the wait."""
    started = time.monotonic()
    monitor = CpuMonitor(own_pids)
    said = False
    while time.monotonic() - started < QUIET_WAIT_S:
        monitor.start()
        time.sleep(QUIET_WINDOW_S)
        if (others := monitor.stop()) < QUIET_BELOW:
            return time.monotonic() - started
        if not said:
            report(f"  other processes use {others:.2f} cores: waiting for a quiet machine")
            said = True
    report(f"  the machine stayed busy for {QUIET_WAIT_S:.0f} s: measuring anyway")
    return time.monotonic() - started


def measured_quietly(run: Callable[[], T], *, label: str, report: Callable[[str], None],
                     own_pids: Iterable[int] = ()) -> tuple[T, float, int]:
    """Run on a quiet machine; again (up to ATTEMPTS) when others disturbed it.

    Returns the result, the cores others used during it, and how many attempts it took.
    """
    own_pids = list(own_pids)
    for attempt in range(1, ATTEMPTS + 1):
        wait_for_quiet(own_pids, report=report)
        monitor = CpuMonitor(own_pids)
        monitor.start()
        result = run()
        others = monitor.stop()
        if others <= DISTURBED_ABOVE:
            break
        report(f"  {label}: other processes used {others:.2f} cores during it"
               + ("; again" if attempt < ATTEMPTS else "; kept, marked"))
    return result, others, attempt
