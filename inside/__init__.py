"""The "Inside the models" tab's analysis (CSC413 PA2 Part A): what is inside the colourizer's CNN and UNet.

- ``anatomy``: per-layer weights, outputs and connections measured on the live module with forward hooks
  (``python -m inside.anatomy --model cnn --size 32``);
- ``formulas``: the same counts in closed form (sympy), and the two write-ups' formulas checked term by
  term (``python -m inside.formulas``);
- ``affine``: does an input change y = a*x + b change the colourization? (``python -m inside.affine``).

Built on ``colorizer`` (models, checkpoints, the one trainer); no Gradio.
"""
