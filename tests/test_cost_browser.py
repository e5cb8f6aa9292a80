"""Browser check of the Segment tab's Cost section: measure the colourization UNet against n at the quick
sizes, see the stacked memory and time bars, the peak curve and the closed forms beside them."""
from playwright.sync_api import expect

BARS = "#{} .vega-embed g.mark-rect path"


def test_the_cost_section_plots_against_the_number_of_layers(page):
    page.get_by_role("tab", name="Segment").click()
    page.get_by_text("Cost of fine-tuning against the number of layers trained").click()
    page.get_by_label("Colourization UNet (the handout's, 6 blocks)").check()
    page.get_by_label("64² and 128² (seconds)").check()
    page.locator("#segment-cost-run").click()
    report = page.locator("#segment-cost-report")
    expect(report).to_contain_text("(d) memory", timeout=300_000)
    expect(report).to_contain_text("(e)")
    expect(report).to_contain_text("colourization UNet, 6 blocks, 6 values of n")
    for plot in ("segment-cost-memory-small", "segment-cost-memory-big", "segment-cost-time-small",
                 "segment-cost-time-big"):
        # 6 values of n, each a stack of 4 memory parts or 3 time parts (a zero part may draw no bar)
        page.wait_for_function(f"document.querySelectorAll('{BARS.format(plot)}').length >= 12", timeout=60_000)
    expect(page.locator("#segment-cost-peak .vega-embed g.mark-line path").first).to_be_attached()
