"""One device rule for training, inference and the app, and torch's CPU thread count between them."""
import contextlib
import threading

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' = CUDA when present, else the CPU; any other name is taken as it is."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# torch.set_num_threads sets the calling thread's count and the one every thread started later begins
# with; a thread already running keeps its own. So small inferences can run on one thread while a training
# keeps two, but a thread started during an inference begins on one and stays there: the app's training
# worker starts on PROCESS_THREADS instead (what the process had when this module was imported, at start-up).
PROCESS_THREADS = torch.get_num_threads()
_threads_lock = threading.Lock()
_threads_users = 0
_threads_before = 1


@contextlib.contextmanager
def one_torch_thread():
    """Run a small forward pass on one torch thread. At working sizes (<= 256 px) intra-op threads cost
    more than they give, and while other requests or a training keep the cores busy they spin-wait:
    measured 0.04 s CPU per upload on one thread vs 0.2-0.35 s on two (docs/uploads-and-limits.md, under load).
    The first caller in saves the process's count, the last one out restores it."""
    global _threads_users, _threads_before
    with _threads_lock:
        if _threads_users == 0:
            _threads_before = torch.get_num_threads()
        _threads_users += 1
        torch.set_num_threads(1)
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                torch.set_num_threads(_threads_before)

