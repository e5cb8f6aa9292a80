"""pixelwise.zerogpu: a no-op off ZeroGPU Spaces, spaces.GPU(duration=...) on them."""
import sys
import types

from pixelwise import zerogpu


def _double(x):
    return 2 * x


def test_a_no_op_off_spaces(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert zerogpu.gpu(30)(_double) is _double
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")  # the flag alone is not enough without the package
    monkeypatch.setitem(sys.modules, "spaces", None)
    monkeypatch.setattr(zerogpu.importlib.util, "find_spec", lambda name: None)
    assert not zerogpu.on_zerogpu() and zerogpu.gpu(30)(_double) is _double


def test_on_zerogpu_it_wraps_with_the_duration(monkeypatch):
    calls = []
    fake = types.ModuleType("spaces")

    def GPU(duration):
        def wrap(fn):
            calls.append((fn, duration))
            return lambda *args: ("on gpu", fn(*args))
        return wrap

    fake.GPU = GPU
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setattr(zerogpu.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setenv("SPACES_ZERO_GPU", "false")
    assert zerogpu.gpu(30)(_double) is _double
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    wrapped = zerogpu.gpu(zerogpu.INFERENCE_S)(_double)
    assert wrapped(4) == ("on gpu", 8) and calls == [(_double, zerogpu.INFERENCE_S)]
