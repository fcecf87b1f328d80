"""Devices and threads: which device a run trains on, how many CPU threads torch uses, mixed
precision, and how a device is named in a run's record. The policy lives here, apart from
the training loop, so a page that names the device never imports the loop.
"""

from __future__ import annotations

import ctypes
import os

import torch

from recsys_core.errors import ConfigError

_MALLOC_SET: bool | None = None  # whether glibc was told to return freed memory (once a process)


def pick_device(requested: str = "auto") -> torch.device:
    """The device a run will use: `auto` takes CUDA, then MPS, then the CPU; `cpu`, `cuda`,
    `cuda:N` and `mps` are taken as asked when present, and raise ConfigError (saying what
    torch sees) when not, so a run is refused before it is queued."""
    requested = str(requested or "auto")
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as e:
        raise ConfigError(f"unknown device {requested!r}: use auto, cpu, cuda, cuda:N or mps") from e
    if device.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ConfigError(f"device {requested!r}: torch sees no CUDA device here ({seen_devices()})")
        if device.index is not None and device.index >= n:
            raise ConfigError(f"device {requested!r}: torch sees {n} CUDA device(s), cuda:0 .. cuda:{n - 1}")
    elif device.type == "mps" and not _mps_available():
        raise ConfigError(f"device 'mps': no Apple GPU is available here ({seen_devices()})")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unknown device {requested!r}: use auto, cpu, cuda, cuda:N or mps")
    return device


def thread_count() -> int:
    """torch's CPU threads for a fit: `RECSYS_THREADS` when set, else one per core this
    process may run on. Never chosen from the load of the moment: the thread count changes
    the order of torch's sums and so a run's figures (SASRec on ml-100k, 5 epochs, HR@10
    0.638 with one thread, 0.646 with two), so a shipped model gives the same figures on a
    busy machine as on an idle one. Busy cores no longer call for fewer threads: with the
    OpenMP threads sleeping after a short spin (`recsys_core.WAIT_POLICY`), two threads beside a
    busy-loop process on 2 cores train in about 1.6x their idle time, one thread in about its
    idle time (docs/benchmarks.md, "Under load")."""
    raw = os.environ.get("RECSYS_THREADS", "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError as e:
            raise ConfigError(f"RECSYS_THREADS={raw!r}: expected a whole number of threads") from e
        if n < 1:
            raise ConfigError(f"RECSYS_THREADS={n}: at least one thread")
        return n
    return usable_cores()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform says, else
    every core)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def return_freed_memory() -> bool:
    """With `RECSYS_MMAP_THRESHOLD=N` (bytes), ask glibc's malloc to serve blocks of N and
    more from their own mappings, given back to the system when freed, instead of from a
    heap it keeps at its high-water mark. Off by default: it lowers the peak (`train ncf` on
    ml-100k: 651 -> 504 MiB at 256 KiB) but costs a page fault per large tensor (MF's
    training 10 -> 21 s), measured in docs/benchmarks.md, "Memory". False where it is off or
    the C library is not glibc (macOS, Windows, musl)."""
    global _MALLOC_SET
    if _MALLOC_SET is None:
        _MALLOC_SET = False
        try:
            threshold = int(os.environ.get("RECSYS_MMAP_THRESHOLD", "0"))
            if threshold > 0:
                libc = ctypes.CDLL("libc.so.6")
                m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameters
                _MALLOC_SET = bool(libc.mallopt(m_mmap_threshold, threshold)) and bool(
                    libc.mallopt(m_trim_threshold, 4 * threshold)
                )
        except (OSError, AttributeError, ValueError):
            _MALLOC_SET = False
    return _MALLOC_SET


def share_cores(workers: int, cores: int | None = None) -> tuple[int, int]:
    """(workers, torch threads each) for a pool of worker processes on `cores` (default: the
    usable cores): at most one worker a core, and workers x threads never more than the cores,
    so no two trainings fight over a core."""
    cores = cores or usable_cores()
    workers = max(1, min(workers, cores))
    return workers, max(1, cores // workers)


def set_process_threads(n: int) -> None:
    """Every fit in this process (a pool's worker) trains on `n` torch threads."""
    os.environ["RECSYS_THREADS"] = str(n)  # what `use_threads` reads at each fit
    torch.set_num_threads(n)


# the positions a sequential step reads (batch x max_len) at or under which GRU4Rec trains on one
# thread: ml-100k's GRU4Rec in batches of 16 (800), 5 epochs, beside one busy-loop process took 3.6x
# its idle time on two threads (48.1 s against 13.3 s, twice the CPU time) and 14.8 s on one thread,
# which takes 15.5 s idle (docs/benchmarks.md, "Small steps beside a busy process")
SMALL_STEP_POSITIONS = 1024
FEWER = ", fewer than the cores: its steps are too small to share"  # what a run's device line says then


def useful_threads(name: str, cfg) -> int | None:
    """The most torch threads a training of model `name` at `cfg` (its config, or a mapping of
    its settings) keeps busy; None: one a core. Where a step is a few small products, a second
    thread waits on the first more than it works, and beside other work each wait is a wake-up
    on a shared core: NeuMF (5 ml-100k epochs: 21.5 s on two threads beside a busy-loop process,
    9.2 s on one, 8.1 and 8.9 s idle) and GRU4Rec in small batches (`SMALL_STEP_POSITIONS`)
    train on one."""
    if name == "ncf":
        return 1
    if name == "gru4rec":
        get = cfg.get if isinstance(cfg, dict) else lambda k: getattr(cfg, k)
        return 1 if get("batch_size") * get("max_len") <= SMALL_STEP_POSITIONS else None
    return None


def cpu_line() -> str:
    """'CPU, 2 torch threads': the threads a fit in this process really has (`use_threads`
    picked them), and why where a model's small steps took fewer than the rule gives."""
    n = torch.get_num_threads()
    return f"CPU, {_threads(n)}{FEWER if n < thread_count() else ''}"


def use_threads(cap: int | None = None) -> int:
    """Apply `thread_count()` to torch (process-wide) and return it. `cap`: the most threads
    a model's steps keep busy (`useful_threads`), applied unless `RECSYS_THREADS`
    names the count (a person's `--threads`, or a pool worker's share, is kept). It follows
    the model's settings, never the load of the moment, so a run gives the same figures on a
    busy machine as on an idle one."""
    n = _capped(cap)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def seen_devices() -> str:
    """What torch sees: 'cpu (2 threads)', then each CUDA device or the Apple GPU."""
    parts = [f"cpu ({usable_cores()} cores; {_threads_rule()})"]
    if torch.cuda.is_available():
        parts += [f"cuda:{j} {torch.cuda.get_device_name(j)}" for j in range(torch.cuda.device_count())]
    if _mps_available():
        parts.append("mps (Apple GPU)")
    return ", ".join(parts)


def _capped(cap: int | None) -> int:
    """`thread_count()`, at most `cap` unless RECSYS_THREADS names the count."""
    n = thread_count()
    if cap is not None and not os.environ.get("RECSYS_THREADS", "").strip():
        n = max(1, min(n, cap))
    return n


def describe_device(device: torch.device | str | None = None, cap: int | None = None) -> str:
    """'NVIDIA H100 80GB HBM3 (cuda:0)' or 'CPU, 2 torch threads (no GPU found)'; `cap`: the
    model's `useful_threads`, for the CPU's line."""
    device = pick_device() if device is None else pick_device(str(device))
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"{torch.cuda.get_device_name(index)} (cuda:{index})"
    if device.type == "mps":
        return "Apple GPU (mps)"
    gpu = "" if torch.cuda.is_available() or _mps_available() else " (no GPU found)"
    return f"CPU, {_threads_rule(cap)}{gpu}"


def _threads_rule(cap: int | None = None) -> str:
    """'2 torch threads (RECSYS_THREADS)' (set), '2 torch threads, one per core' (the rule), or
    '1 torch thread, fewer than the cores: ...' (a model's small steps, `useful_threads`)."""
    n, taken = thread_count(), _capped(cap)
    if os.environ.get("RECSYS_THREADS", "").strip():
        return f"{_threads(n)} (RECSYS_THREADS)"
    return f"{_threads(taken)}{FEWER}" if taken < n else f"{_threads(n)}, one per core"


def _threads(n: int) -> str:
    return f"{n} torch thread{'s' * (n != 1)}"


def cpu_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (x86's AVX512-BF16 or AMX, as torch's
    oneDNN uses them). Elsewhere bf16 on the CPU is emulated, slower than float32."""
    cpu = getattr(torch, "cpu", None)
    try:
        return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):
        return False


def bf16_here(device: torch.device) -> bool:
    """Whether bf16 mixed precision runs as asked on `device`: CUDA, or a CPU with bf16
    instructions (`cpu_bf16`)."""
    return device.type == "cuda" or (device.type == "cpu" and cpu_bf16())


def amp_plan(cfg, device: torch.device) -> tuple[torch.dtype | None, str]:
    """(the autocast dtype of a run, or None; what the run's device line says of it). bf16 or
    fp16 on CUDA when asked for; bf16 on a CPU that has bf16 instructions (`cpu_bf16`); what
    cannot run as asked trains in full precision and says so, never silently."""
    mode = getattr(cfg, "amp", "off")
    if mode == "off":
        return None, ""
    if mode == "bf16-softmax":  # the model in full precision; the objective runs its softmax in bf16
        return None, softmax_plan(cfg, device)[1]
    if device.type == "cuda":
        return (torch.bfloat16 if mode == "bf16" else torch.float16), f"{mode} mixed precision"
    if mode == "bf16" and bf16_here(device):
        return torch.bfloat16, "bf16 mixed precision"
    why = "this CPU has no bf16 instructions" if device.type == "cpu" and mode == "bf16" else "CUDA only"
    return None, f"{mode} asked, {why}: full precision"


def softmax_plan(cfg, device: torch.device) -> tuple[bool, str]:
    """(whether the full softmax of a run with `amp="bf16-softmax"` runs in bf16; what its
    device line says): a sequential model's full softmax, on CUDA or a CPU with bf16
    instructions; anything else trains in full precision and says so."""
    if getattr(cfg, "amp", "off") != "bf16-softmax":
        return False, ""
    if not (hasattr(cfg, "max_len") and getattr(cfg, "loss", None) == "full"):
        return False, "bf16-softmax asked, only a sequential model's full softmax has it: full precision"
    if not bf16_here(device):
        return False, "bf16-softmax asked, this CPU has no bf16 instructions: full precision"
    return True, "bf16 softmax"


def amp_dtype(cfg, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a run (`amp_plan`): None where it trains in full precision."""
    return amp_plan(cfg, device)[0]
