"""The app's runs: what the app needs around the ML core, with threads, queues and on-disk caches.

- ``catalog``: which colourizer checkpoints there are (shipped, trained in the app, fetched from the Hub),
  each file loaded once per process; interrupted saves removed at start-up;
- ``live``: Train live's worker thread, streaming typed events to the UI;
- ``runcache``: finished runs kept on disk and replayed (``python -m runs.runcache fill``);
- ``scheduler``: the one scheduler of every CPU-heavy job (trainings, fine-tunes, measurements, the rate
  calibration), with places, estimates, stop flags and a thread budget; ``rates``: how long they take here.

Built on ``colorizer`` and ``pixelwise``; nothing below imports this package. No Gradio here.
"""
import pixelwise  # noqa: F401  (first: sets torch's allocator options before torch loads)
