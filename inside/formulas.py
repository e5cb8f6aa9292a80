"""Closed-form weights, outputs and connections of the CNN and UNet, and the two write-ups checked.

Every count is written ONCE, per layer, as a sympy expression in NF (filters), NC (colours),
k (kernel side) and S (image side), using the conventions of ``inside.anatomy`` (biases and BN
gamma/beta are weights; BN running mean/var are buffers; connections are convolution
multiply-accumulates H_out*W_out*k^2*C_in*C_out, biases not counted; one grey input channel).
The same expressions are given numbers (``substitute``), summed (``totals``) and printed (``latex``/``text``).

k must be odd: the models pad by k // 2, which keeps H x W only for odd k (an even k grows each
convolution's output by one pixel per side pair, the poolings then floor, and the shapes stop
being S, S/2, S/4). S must be a multiple of 4 (two 2x poolings).
"""
import functools
from dataclasses import dataclass

import sympy

from colorizer.models import ModelConfig, build_model

from .anatomy import anatomy, measure

NF, NC, k, S = sympy.symbols("NF NC k S", positive=True, integer=True)
QUANTITIES = ("weights", "buffers", "outputs", "connections")
GREY = 1  # input channels: the models colourize one grey channel


@dataclass(frozen=True)
class LayerFormula:
    name: str  # the module name in colorizer.models, e.g. "downconv1.0"
    kind: str
    weights: sympy.Expr
    buffers: sympy.Expr
    outputs: sympy.Expr
    connections: sympy.Expr

    def get(self, quantity: str) -> sympy.Expr:
        return sympy.sympify(getattr(self, quantity))


def conv(name, c_in, c_out, side) -> LayerFormula:
    """k x k 'same' convolution at resolution side x side: kernels + biases, one MAC per kernel tap."""
    return LayerFormula(name, "Conv2d", k**2 * c_in * c_out + c_out, 0, side**2 * c_out, side**2 * k**2 * c_in * c_out)


def batch_norm(name, channels, side) -> LayerFormula:
    """gamma, beta learned; running mean, variance kept as buffers."""
    return LayerFormula(name, "BatchNorm2d", 2 * channels, 2 * channels, side**2 * channels, 0)


def reshaping(name, kind, channels, side) -> LayerFormula:
    """MaxPool2d, Upsample, ReLU: no weights, no connections, only outputs."""
    return LayerFormula(name, kind, 0, 0, side**2 * channels, 0)


def down(name, c_in, c_out, side) -> list[LayerFormula]:
    return [conv(f"{name}.0", c_in, c_out, side), reshaping(f"{name}.1", "MaxPool2d", c_out, side / 2),
            batch_norm(f"{name}.2", c_out, side / 2), reshaping(f"{name}.3", "ReLU", c_out, side / 2)]


def middle(name, c_in, c_out, side) -> list[LayerFormula]:
    return [conv(f"{name}.0", c_in, c_out, side), batch_norm(f"{name}.1", c_out, side),
            reshaping(f"{name}.2", "ReLU", c_out, side)]


def up(name, c_in, c_out, side) -> list[LayerFormula]:
    return [conv(f"{name}.0", c_in, c_out, side), reshaping(f"{name}.1", "Upsample", c_out, 2 * side),
            batch_norm(f"{name}.2", c_out, 2 * side), reshaping(f"{name}.3", "ReLU", c_out, 2 * side)]


@functools.lru_cache(maxsize=4)
def layer_formulas(model: str) -> tuple[LayerFormula, ...]:
    """Per-layer closed forms, in the order the layers run. The UNet differs only in the C_in of
    the three convolutions that read a concatenation (rfconv+downconv2, upconv1+downconv1, upconv2+grey)."""
    skip = model == "unet"
    if model not in ("cnn", "unet"):
        raise ValueError(f"unknown model {model!r}; choose 'cnn' or 'unet'")
    return (
        *down("downconv1", GREY, NF, S),
        *down("downconv2", NF, 2 * NF, S / 2),
        *middle("rfconv", 2 * NF, 2 * NF, S / 4),
        *up("upconv1", 2 * NF + (2 * NF if skip else 0), NF, S / 4),
        *up("upconv2", NF + (NF if skip else 0), NC, S / 2),
        conv("finalconv", NC + (GREY if skip else 0), NC, S),
    )


def total(layers: tuple[LayerFormula, ...], quantity: str, names: tuple[str, ...] | None = None) -> sympy.Expr:
    return sympy.expand(sum((layer.get(quantity) for layer in layers if names is None or layer.name in names),
                            sympy.Integer(0)))


def totals(model: str) -> dict[str, sympy.Expr]:
    layers = layer_formulas(model)
    return {quantity: total(layers, quantity) for quantity in QUANTITIES}


def check_symbols(nf: int, nc: int, kernel: int, side: int) -> None:
    if kernel % 2 == 0:
        raise ValueError(f"kernel k={kernel} is even; the formulas (and 'same' padding k//2) hold for odd k only")
    if side % 4:
        raise ValueError(f"image side S={side} must be a multiple of 4 (two 2x poolings)")
    if min(nf, nc, kernel, side) < 1:
        raise ValueError("NF, NC, k and S must be positive")


def substitute(expr: sympy.Expr, nf: int, nc: int, kernel: int = 3, side: int = 32) -> int:
    check_symbols(nf, nc, kernel, side)
    value = sympy.sympify(expr).subs({NF: nf, NC: nc, k: kernel, S: side})
    if not value.is_integer:
        raise ValueError(f"{expr} is not an integer at NF={nf}, NC={nc}, k={kernel}, S={side}")
    return int(value)


def arranged(expr: sympy.Expr) -> sympy.Expr:
    """Group by powers of S and k so the x4-when-S-doubles and x k^2 structure is visible."""
    return sympy.collect(sympy.expand(expr), [S**2 * k**2, S**2, k**2])


@functools.lru_cache(maxsize=1024)
def latex(expr: sympy.Expr) -> str:
    return sympy.latex(arranged(expr))


@functools.lru_cache(maxsize=1024)
def text(expr: sympy.Expr) -> str:
    """Plain text: 'k^2·NF + 2·NF'."""
    return sympy.sstr(arranged(expr)).replace("**", "^").replace("*", "·")


# ---------------------------------------------------------------------------------------------
# The two write-ups in ../shared/reference/, transcribed term by term (CNN of Part A only).
# Each Term is what the write-up writes for some of our layers; the verdict is computed by
# comparing it symbolically with the closed form above under the write-up's own assumptions.
# ---------------------------------------------------------------------------------------------
DU = "Du (reference/000_95240dd4ab87f37b.txt)"
LIANG = "Liang (reference/001_9f5c8083f4b0b164.txt)"
DU_COUNTS = "Part A, Question 3: weights and connections of the CNN (Table 1, eq. 1.1, 1.2)"
LIANG_COUNTS = "Part 1 (c): weights, outputs and connections of the CNN"
CNN_BLOCKS = {"B1": "downconv1", "B2": "downconv2", "B3": "rfconv", "B4": "upconv1", "B5": "upconv2"}


@dataclass(frozen=True)
class Term:
    writeup: str
    question: str
    label: str  # the write-up's own name for the term
    quantity: str  # weights | outputs | connections
    layers: tuple[str, ...]  # the CNN modules the term counts
    theirs: sympy.Expr
    note: str  # what the write-up counts, and why that is (in)complete
    assumes: tuple[tuple[sympy.Symbol, int], ...] = ((S, 32),)

    def truth(self) -> sympy.Expr:
        """The closed form of the same count, under the write-up's assumptions."""
        return _cnn_total(self.quantity, self.layers, self.assumes)

    def difference(self) -> sympy.Expr:
        """theirs - truth: 0 when the write-up is right."""
        return sympy.expand(sympy.sympify(self.theirs) - self.truth())

    @property
    def right(self) -> bool:
        return self.difference() == 0


@functools.lru_cache(maxsize=256)
def _cnn_total(quantity: str, layers: tuple[str, ...], assumes: tuple) -> sympy.Expr:
    return total(layer_formulas("cnn"), quantity, layers).subs(dict(assumes))


def _names(*kinds: str) -> tuple[str, ...]:
    return tuple(layer.name for layer in layer_formulas("cnn") if layer.kind in kinds)


ALL_LAYERS = _names("Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU", "Upsample")
CONVS = _names("Conv2d")
NO_BIAS = "kernel weights k^2·C_in·C_out only; the convolution's C_out biases are left out"
LEARNED_BN = "gamma and beta per channel: the learned ones (running mean/var are buffers)"
BN_WITH_STATS = ("counts beta, gamma, sigma and mu per channel; sigma and mu are running statistics "
                 "(buffers), not learned, so only 2 per channel are weights")


def _du_terms() -> list[Term]:
    def term(label, quantity, layers, theirs, note):
        return Term(DU, DU_COUNTS, label, quantity, layers, theirs, note)

    conv_io = {"B1": (GREY, NF), "B2": (NF, 2 * NF), "B3": (2 * NF, 2 * NF), "B4": (2 * NF, NF), "B5": (NF, NC)}
    table_sides = {"B1": 32, "B2": 16, "B3": 8, "B4": 8, "B5": 16}
    terms = []
    for block, (c_in, c_out) in conv_io.items():
        module = CNN_BLOCKS[block]
        bn_index = 1 if block == "B3" else 2
        terms.append(term(f"{block}.MyConv2D weights", "weights", (f"{module}.0",), k**2 * c_in * c_out, NO_BIAS))
        terms.append(term(f"{block}.BatchNorm weights", "weights", (f"{module}.{bn_index}",), 2 * c_out, LEARNED_BN))
        terms.append(term(f"{block}.MyConv2D connections", "connections", (f"{module}.0",),
                          table_sides[block]**2 * c_in * c_out * k**2, "H_out·W_out·k^2·C_in·C_out at S=32"))
    terms.append(term("Out.MyConv2D weights", "weights", ("finalconv",), k**2 * NC**2, NO_BIAS))
    terms.append(term("Out.MyConv2D connections", "connections", ("finalconv",), 32**2 * NC**2 * k**2,
                      "H_out·W_out·k^2·C_in·C_out at S=32"))
    terms.append(term("eq. 1.1 total weights", "weights", ALL_LAYERS,
                      k**2 * NC**2 + k**2 * NC * NF + 8 * k**2 * NF**2 + k**2 * NF + 2 * NC + 12 * NF,
                      "the table's sum: conv kernels + BN gamma/beta, but the 6·NF + 2·NC conv biases are missing"))
    terms.append(term("eq. 1.2 total connections", "connections", ALL_LAYERS,
                      1024 * k**2 * NC**2 + 256 * k**2 * NC * NF + 896 * k**2 * NF**2 + 1024 * k**2 * NF,
                      "sum of the six convolutions' MACs at S=32"))
    # Table 1's output-shape column, one entry per layer (C x H x W at S = 32).
    shapes = [NF * 32**2, NF * 16**2, NF * 16**2, NF * 16**2, 2 * NF * 16**2, 2 * NF * 8**2, 2 * NF * 8**2,
              2 * NF * 8**2, 2 * NF * 8**2, 2 * NF * 8**2, 2 * NF * 8**2, NF * 8**2, NF * 16**2, NF * 16**2,
              NF * 16**2, NC * 16**2, NC * 32**2, NC * 32**2, NC * 32**2, NC * 32**2]
    for name, outputs in zip(ALL_LAYERS, shapes, strict=True):
        terms.append(term(f"Table 1 output shape of {name}", "outputs", (name,), outputs, "H·W·C from the table"))
    return terms


def _liang_terms() -> list[Term]:
    def term(label, quantity, layers, theirs, note):
        return Term(LIANG, LIANG_COUNTS, label, quantity, layers, theirs, note, assumes=((S, 32), (k, 3)))

    sections = {"i. DownConv 1": ("downconv1", 9 * NF, 4 * NF, 9216 * NF, 1024 * NF, 256 * NF),
                "ii. DownConv 2": ("downconv2", 18 * NF**2, 8 * NF, 4608 * NF**2, 512 * NF, 128 * NF),
                "iii. RFConv": ("rfconv", 36 * NF**2, 8 * NF, 2304 * NF**2, 128 * NF, None),
                "iv. UpConv1": ("upconv1", 18 * NF**2, 4 * NF, 1152 * NF**2, 64 * NF, 256 * NF),
                "v. UpConv2": ("upconv2", 9 * NF * NC, 4 * NC, 2304 * NF * NC, 256 * NC, 1204 * NC)}
    terms = []
    for section, (module, conv_w, bn_w, conv_c, conv_o, resample_o) in sections.items():
        bn_index = 1 if module == "rfconv" else 2
        terms.append(term(f"{section} MyConv2D weights", "weights", (f"{module}.0",), conv_w,
                          NO_BIAS + " (the prose names the biases but does not add them)"))
        terms.append(term(f"{section} BatchNorm weights", "weights", (f"{module}.{bn_index}",), bn_w, BN_WITH_STATS))
        terms.append(term(f"{section} MyConv2D connections", "connections", (f"{module}.0",), conv_c,
                          "H_out·W_out·3·3·C_in·C_out"))
        terms.append(term(f"{section} MyConv2D outputs", "outputs", (f"{module}.0",), conv_o, "H·W·C_out"))
        if resample_o is not None:
            note = "32 x 32 = 1024, not 1204 (a typo)" if resample_o == 1204 * NC else "H·W·C after pooling/upsampling"
            terms.append(term(f"{section} {'MaxPool' if module.startswith('down') else 'Upsample'} outputs",
                              "outputs", (f"{module}.1",), resample_o, note))
    terms += [
        term("vi. FinalConv weights", "weights", ("finalconv",), 9 * NC**2, NO_BIAS),
        term("vi. FinalConv connections", "connections", ("finalconv",), 9216 * NC**2,
             "the number is right; the prose '32 x 32 x 3 x NC x NC' writes 3 where k^2 = 9 is meant"),
        term("vi. FinalConv outputs", "outputs", ("finalconv",), 1204 * NC, "32 x 32 = 1024, not 1204 (a typo)"),
        term("total weights", "weights", ALL_LAYERS, 33 * NF + 72 * NF**2 + 9 * NF * NC + 9 * NC**2 + 4 * NC,
             "no biases (-6·NF - 2·NC) and 4 per BN channel (+12·NF + 2·NC): the NC errors cancel by "
             "coincidence, the net error is +6·NF; valid only for k = 3"),
        term("total connections", "connections", ALL_LAYERS, 9216 * NF + 8064 * NF**2 + 2304 * NF * NC + 9216 * NC**2,
             "sum of the six convolutions' MACs with k = 3"),
        term("total outputs, her terms added", "outputs", _names("Conv2d", "MaxPool2d", "Upsample"),
             2368 * NF + 256 * NC + 1204 * NC + 32 * 32 * NC,
             "the left-hand side of her sum: 256·NC + 1204·NC + 1024·NC = 2484·NC, the 1204 typo included"),
        term("total outputs as printed (2368NF + 2304NC)", "outputs", _names("Conv2d", "MaxPool2d", "Upsample"),
             2368 * NF + 2304 * NC,
             "right for conv, max-pool and upsample outputs: the printed sum silently uses 1024, not 1204"),
        term("total outputs as printed, against every layer", "outputs", ALL_LAYERS, 2368 * NF + 2304 * NC,
             "leaves out the BatchNorm and ReLU outputs; 'ReLU doesn't change the size' does not make its "
             "outputs disappear, so this is a convention, and it misses 1536·NF + 2048·NC at S = 32"),
    ]
    return terms


@functools.lru_cache(maxsize=1)
def writeup_terms() -> tuple[Term, ...]:
    return tuple(_du_terms() + _liang_terms())


@dataclass(frozen=True)
class ScalingClaim:
    writeup: str
    question: str
    quantity: str
    factor: int  # what the write-up says the total is multiplied by when S doubles

    def measured_factor(self, model: str = "cnn") -> sympy.Expr:
        expr = totals(model)[self.quantity]
        return sympy.simplify(expr.subs(S, 2 * S) / expr)

    @property
    def right(self) -> bool:
        return self.measured_factor() == self.factor


SCALING_CLAIMS = [
    ScalingClaim(DU, DU_COUNTS, "weights", 1), ScalingClaim(DU, DU_COUNTS, "outputs", 4),
    ScalingClaim(DU, DU_COUNTS, "connections", 4),
    ScalingClaim(LIANG, LIANG_COUNTS, "weights", 1), ScalingClaim(LIANG, LIANG_COUNTS, "outputs", 4),
    ScalingClaim(LIANG, LIANG_COUNTS, "connections", 4),
]

# The affine-input question: claims tested by inside.affine, not by algebra.
AFFINE_CLAIMS = [
    (DU, "Part A, Question 4", "The colourization should be exactly the same ... each weight w will be adjusted "
                               "to (w - b)/a."),
    (LIANG, "Part 1 (d)", "The pre-processing step will not affect the output of the conv net ... after batch "
                          "normalization, the normalized results would be the same."),
]


def writeup_records(nf: int, nc: int, kernel: int = 3) -> list[dict]:
    """One row per transcribed term: their formula and value, the true formula and value (under the
    write-up's assumptions S = 32, and k = 3 for Liang), the verdict and the reason."""
    measured = {}  # kernel -> per-layer measured rows of the live CNN at S = 32
    records = []
    for term in writeup_terms():
        assumed = dict(term.assumes)
        at = dict(nf=nf, nc=nc, kernel=assumed.get(k, kernel), side=assumed.get(S, 32))
        if at["kernel"] not in measured:
            cnn = build_model("cnn", ModelConfig(at["kernel"], nf, nc))
            measured[at["kernel"]] = {row.name: row for row in anatomy(cnn, at["side"]).rows}
        difference = term.difference()
        records.append({
            "write-up": term.writeup.split(" (")[0], "question": term.question, "term": term.label,
            "quantity": term.quantity, "theirs": text(term.theirs), "true": text(term.truth()),
            "their value": substitute(term.theirs, **at), "true value": substitute(term.truth(), **at),
            "measured": sum(getattr(measured[at["kernel"]][name], term.quantity) for name in term.layers),
            "k": at["kernel"], "verdict": "right" if difference == 0 else "wrong",
            "off by": "" if difference == 0 else text(difference), "why": term.note,
        })
    return records


# ---------------------------------------------------------------------------------------------
# Closed forms next to the live module's measured counts (what the app's tab shows).
# ---------------------------------------------------------------------------------------------
def layer_records(arch: str, nf: int, nc: int, kernel: int = 3, side: int = 32) -> list[dict]:
    """One row per layer: measured counts (forward hooks on a freshly built module) and each
    count's closed form and value; 'match' says every measured count equals its formula."""
    check_symbols(nf, nc, kernel, side)
    measured = measure(arch, nf, nc, kernel, side)
    formulas = layer_formulas(arch)
    if [row.name for row in measured.rows] != [layer.name for layer in formulas]:
        raise RuntimeError(f"the {arch} module's layers no longer match inside.formulas; update the formulas")
    records = []
    for row, layer in zip(measured.rows, formulas):
        record = {"layer": row.name, "type": row.kind, "output shape": "x".join(map(str, row.output_shape))}
        match = True
        for quantity in ("outputs", "weights", "buffers", "connections"):
            value = substitute(layer.get(quantity), nf, nc, kernel, side)
            record[quantity] = getattr(row, quantity)
            record[f"{quantity} formula"] = text(layer.get(quantity))
            match &= value == getattr(row, quantity)
        record["match"] = "yes" if match else "NO"
        records.append(record)
    return records


def total_records(arch: str, nf: int, nc: int, kernel: int = 3, side: int = 32) -> list[dict]:
    """Totals: closed form, its value, the measured total, and the measured total at 2S with the ratio."""
    check_symbols(nf, nc, kernel, side)
    here, doubled = measure(arch, nf, nc, kernel, side), measure(arch, nf, nc, kernel, 2 * side)
    records = []
    for quantity, expr in totals(arch).items():
        measured, measured_doubled = here.total(quantity), doubled.total(quantity)
        records.append({
            "quantity": quantity, "formula": text(expr), "latex": latex(expr),
            "formula value": substitute(expr, nf, nc, kernel, side), "measured": measured,
            "measured at 2S": measured_doubled,
            "ratio 2S / S": f"{measured_doubled / measured:g}" if measured else "-",
        })
    return records


def main() -> None:
    """Print both models' closed forms and every transcribed write-up term with its verdict."""
    for arch in ("cnn", "unet"):
        print(f"{arch.upper()} (one grey input channel; S = image side):")
        for quantity, expr in totals(arch).items():
            print(f"  {quantity:<12} = {text(expr)}")
    print("\nWrite-up terms (S = 32; Liang also k = 3):")
    for term in writeup_terms():
        difference = term.difference()
        verdict = "right" if difference == 0 else f"WRONG by {text(difference)}"
        print(f"  {term.writeup.split(' (')[0]:<6} {term.label:<48} {text(term.theirs):<40} {verdict}")
    for claim in SCALING_CLAIMS:
        print(f"  {claim.writeup.split(' (')[0]:<6} S doubles: {claim.quantity} x{claim.factor}: "
              f"{'right' if claim.right else 'WRONG'} (closed form: x{claim.measured_factor()})")


if __name__ == "__main__":
    main()
