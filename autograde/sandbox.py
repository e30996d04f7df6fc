"""The sandbox every piece of student code runs in: bubblewrap + an unprivileged uid + rlimits.

One sandboxed process sees only: the system (``/usr``, ``/etc``, read-only), the Python
installation and the virtual environment (read-only), the course data (read-only), its own
working copy (read-write) and a private ``/tmp``. It has no network (a fresh network
namespace with nothing in it), its own PID namespace (it cannot see or signal other
processes; when the sandbox ends every process in it ends), and it runs as an unprivileged
uid with no capabilities, with limits on CPU time, address space (memory), processes
(fork bombs) and file size. The wall-time limit is enforced by the trusted caller.

Nothing here invents a sandbox: it is Debian's ``bwrap`` (bubblewrap), ``setpriv`` and
``prlimit`` (util-linux) put together.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

UID_BASE = 61000          # the first sandbox uid: see slot_uids


def slot_uids(slot: int) -> tuple[int, int]:
    """The two unprivileged uids of grading slot ``slot``: (the notebook's kernel, the judge's
    worker). Slot k runs as UID_BASE + 2k and UID_BASE + 2k + 1. RLIMIT_NPROC counts per uid
    and a finished job's leftovers are killed by uid, so two jobs that run at the same time
    on one machine must never share a slot."""
    if not isinstance(slot, int) or slot < 0:
        raise ValueError(f"a grading slot is an integer >= 0, not {slot!r}")
    return UID_BASE + 2 * slot, UID_BASE + 2 * slot + 1


def kill_uid(uid: int) -> int:
    """SIGKILL every process running as ``uid`` (a slot's sandbox user). Returns how many."""
    n = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            os.kill(int(pid), signal.SIGKILL)
                            n += 1
                        break
        except (OSError, ValueError):
            continue
    return n


def kill_slot(slot: int) -> int:
    """Kill whatever still runs as either uid of ``slot``. Returns how many processes."""
    return sum(kill_uid(u) for u in slot_uids(slot))


class SandboxUnavailable(RuntimeError):
    pass


@dataclass
class Limits:
    cpu_s: int = 300                 # RLIMIT_CPU of each process
    memory_bytes: int = 6 << 30      # RLIMIT_AS: address space of each process
    nproc: int = 256                 # RLIMIT_NPROC: processes + threads of the sandbox uid
    fsize_bytes: int = 200 << 20     # RLIMIT_FSIZE: largest file it may write
    nofile: int = 1024

    @classmethod
    def from_dict(cls, d: dict | None) -> "Limits":
        return cls(**{k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        return asdict(self)


def available() -> str | None:
    """None when sandboxes can be made here, else the reason why not."""
    if sys.platform != "linux":
        return "sandboxing needs Linux (bubblewrap, namespaces)"
    for tool in ("bwrap", "setpriv", "prlimit"):
        if not shutil.which(tool):
            return f"`{tool}` is not installed (Debian: apt-get install bubblewrap util-linux)"
    if os.geteuid() != 0:
        return "the grader must run as root to drop student code to an unprivileged uid"
    return None


def existing(dirs) -> list[Path]:
    """The data folders of ``dirs`` (the ``data_dirs`` setting) that exist, resolved, once each:
    mounted read-only and named in ``COURSE_DATA`` inside the sandbox."""
    found = []
    for p in map(Path, dirs or []):
        if p.is_dir() and p.resolve() not in found:
            found.append(p.resolve())
    return found


def _python_binds() -> list[tuple[Path, Path]]:
    """(source, place in the sandbox) of the Python installation and the environment. The
    environment is also mounted where this process sees it (``sys.prefix`` unresolved), so
    ``sys.executable`` works inside when ``.venv`` is a link to an environment elsewhere."""
    dirs = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    binds = {(d, d) for d in dirs}
    seen = Path(os.path.abspath(sys.prefix))
    if seen != Path(sys.prefix).resolve():
        binds.add((Path(sys.prefix).resolve(), seen))
    return sorted(binds)


def clean_env(home: str = "/tmp", extra: dict | None = None, data_dirs=()) -> dict:
    env = {
        "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin",
        "HOME": home, "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/mpl", "NUMBA_CACHE_DIR": "/tmp/numba",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "NBGRADER_EXECUTION": "autograde", "COURSE_FAST": "1",
    }
    dirs = existing(data_dirs)
    if dirs:
        env["COURSE_DATA"] = os.pathsep.join(map(str, dirs))
    env.update(extra or {})
    return env


def bwrap_argv(cmd: list[str], *, workdir: Path, uid: int, limits: Limits, env: dict,
               ro: list[Path] = (), rw: list[Path] = (), data_dirs=()) -> list[str]:
    """The full command line that runs ``cmd`` sandboxed in ``workdir`` as ``uid``, with the
    ``data_dirs`` that exist mounted read-only."""
    why = available()
    if why:
        raise SandboxUnavailable(why)
    workdir = Path(workdir).resolve()
    a = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
         "--hostname", "grader", "--die-with-parent", "--new-session", "--clearenv"]
    for k, v in env.items():
        a += ["--setenv", k, str(v)]
    a += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev",
          "--perms", "1777", "--tmpfs", "/tmp"]
    for top in ("bin", "sbin", "lib", "lib64", "lib32"):
        p = Path("/") / top
        if p.is_symlink():
            a += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            a += ["--ro-bind", str(p), str(p)]
    ro_binds = [*_python_binds(), *[(q, q) for q in existing(data_dirs)], *[(Path(p).resolve(),) * 2 for p in ro]]
    rw_binds = [workdir, *[Path(p).resolve() for p in rw]]
    targets = [dest for _, dest in ro_binds] + rw_binds
    system = [Path(p) for p in ("/usr", "/etc", "/proc", "/dev", "/tmp")]

    def covered(p: Path) -> bool:
        return any(p == t or t in p.parents for t in targets + system[:4])

    parents = sorted({q for t in targets for q in t.parents if q != Path("/") and not covered(q)},
                     key=lambda q: len(q.parts))
    for q in parents:
        a += ["--perms", "0755", "--dir", str(q)]
    for src, dest in ro_binds:
        a += ["--ro-bind", str(src), str(dest)]
    for p in rw_binds:
        a += ["--bind", str(p), str(p)]
    # writable for the sandbox uid even if the caller re-created it after give_to()
    a += ["--chmod", "1777", str(workdir)]
    a += ["--chdir", str(workdir), "--",
          "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
          "--bounding-set=-all", "--no-new-privs", "--",
          "prlimit", f"--cpu={limits.cpu_s}", f"--as={limits.memory_bytes}", f"--nproc={limits.nproc}",
          f"--fsize={limits.fsize_bytes}", f"--nofile={limits.nofile}", "--core=0", "--"]
    return a + list(cmd)


def give_to(path: Path, uid: int) -> None:
    """chown a tree (never following links) so the sandbox uid may write it."""
    path = Path(path)
    os.lchown(path, uid, uid)
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), uid, uid)


def take_back(path: Path) -> list[str]:
    """After a sandboxed run: remove anything that is not a plain file or folder (links,
    fifos, sockets, devices) and give the tree back to root. Returns what was removed."""
    removed = []
    path = Path(path)
    if not path.exists():
        return removed
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        for n in list(dirnames) + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            import stat as _s
            if _s.S_ISLNK(st.st_mode) or not (_s.S_ISREG(st.st_mode) or _s.S_ISDIR(st.st_mode)):
                os.unlink(p)
                removed.append(os.path.relpath(p, path))
                if n in dirnames:
                    dirnames.remove(n)
                continue
            os.lchown(p, 0, 0)
            if _s.S_ISREG(st.st_mode) and st.st_mode & 0o6000:   # no setuid/setgid files
                os.chmod(p, st.st_mode & 0o777)
    os.lchown(path, 0, 0)
    os.chmod(path, 0o755)
    return removed


def kill_tree(proc) -> None:
    """Kill a sandbox started with start_new_session=True (its whole process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass


# ----------------------------------------------------------------------------- the kernel
@dataclass
class KernelBox:
    """Where and how the current job's sandboxed kernel runs (set by job.py around nbgrader's
    autograde, which builds the kernel manager itself, in this process)."""
    runtime: Path
    workdir: Path
    uid: int
    limits: dict
    data_dirs: list
    env: dict = field(default_factory=dict)     # more environment for the kernel (its language)


_BOX: list[KernelBox] = []


@contextlib.contextmanager
def kernel_box(box: KernelBox):
    """Within the block, :class:`SandboxKernelManager` starts kernels in ``box``."""
    _BOX.append(box)
    try:
        yield
    finally:
        _BOX.remove(box)


class SandboxKernelManager(AsyncKernelManager):
    """The grading kernel: an ordinary ipykernel, started inside the sandbox.

    The kernel talks to nbgrader over Unix sockets in the job's private runtime folder
    (the only way in or out: the sandbox has no network), and is interrupted by a message
    (a signal to bwrap would not reach it)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        if not _BOX:
            raise SandboxUnavailable("the sandboxed kernel is only started by the grader (job.py)")
        self._box = box = _BOX[-1]
        rt = Path(box.runtime)
        self.transport = "ipc"
        self.ip = str(rt / "kernel")
        self.connection_file = str(rt / "kernel.json")
        spec = self.kernel_spec_manager.get_kernel_spec(self.kernel_name)
        spec.interrupt_mode = "message"
        spec.argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        self._kernel_spec = spec

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        box = self._box
        os.chown(self.connection_file, box.uid, box.uid)
        return bwrap_argv(cmd, workdir=Path(box.workdir), uid=box.uid, limits=Limits.from_dict(box.limits),
                          env=clean_env(extra=box.env, data_dirs=box.data_dirs), rw=[Path(box.runtime)],
                          data_dirs=box.data_dirs)
