"""What colorizer/, segmenter/, inside/ and ui/ share, and nothing model-specific.

- ``settings``: REPO_ROOT, the data, checkpoint, cache and trained-run folders, and every
  ``PIXELWISE_*`` environment variable (read there and nowhere else);
- ``images``: any upload -> H x W x 3 uint8 RGB, or a clear ImageError;
- ``checkpoints``: atomic save, checked ``weights_only`` read, CheckpointError;
- ``network``: a 3-second reachability probe, so offline machines fail fast;
- ``device``: CUDA when present, else the CPU;
- ``errors``: DataUnavailable, for images that cannot be read or downloaded;
- ``fetch``, ``deploy``: the data from its official sources, the app to a Hugging Face Space (commands);
- ``zerogpu``: ``gpu(duration)``, ``spaces.GPU`` on ZeroGPU Spaces and a no-op elsewhere;
- ``memory``: training reuses freed memory instead of faulting in fresh pages every step;
- ``process``: the process-wide settings (huge pages, freed memory kept, a quiet profiler) that the entry
  points make, once; importing this package changes nothing in the process.
"""
