"""The first example the Colourize tab shows as the page opens never replaces a photo the person picked
themselves, whichever of the two the queue runs first (issue 29: an upload made while the page was still
opening was lost). Threads and events stand in for the queue; no server, no clock."""
import threading

from ui import colourize_tab


def test_a_pick_before_the_first_example_runs_leaves_the_page_to_it(monkeypatch):
    ran = []
    monkeypatch.setattr(colourize_tab, "page_new", lambda path, *chosen: ran.append(path) or {"view": "first"})
    own = {"picked": False}
    assert colourize_tab.own_pick(lambda path: {"view": path})(own, "mine.png") == {"view": "mine.png"}
    assert colourize_tab.page_first_example(own, "cnn.pt") == {} and ran == []


def test_a_pick_while_the_first_example_runs_wins_over_its_answer(monkeypatch):
    started, go_on = threading.Event(), threading.Event()

    def first_example(path, *chosen):
        started.set()
        assert go_on.wait(60)
        return {"view": "astronaut"}

    monkeypatch.setattr(colourize_tab, "page_new", first_example)
    own, answers = {"picked": False}, []
    running = threading.Thread(target=lambda: answers.append(colourize_tab.page_first_example(own, "cnn.pt")))
    running.start()
    assert started.wait(60)
    mine = colourize_tab.own_pick(lambda path: {"view": path})(own, "mine.png")  # the upload, run meanwhile
    go_on.set()
    running.join(60)
    assert mine == {"view": "mine.png"} and answers == [{}]


def test_without_a_pick_the_page_opens_on_the_first_example_and_leaves_the_upload_box_alone(monkeypatch):
    """Its answer never writes the upload box: written while a person's file was on its way there, the upload
    sent the example instead, or never fired."""
    monkeypatch.setattr(colourize_tab, "page_new", lambda path, *chosen: {"view": path})
    answer = colourize_tab.page_first_example({"picked": False}, "cnn.pt")
    assert answer == {"view": colourize_tab.example_path(colourize_tab.EXAMPLES, 0)} and "upload" not in answer


def test_moving_the_test_image_number_or_its_category_is_a_persons_own_pick_too(monkeypatch):
    """The CIFAR-10 sub-tab's slider (moved or typed in) and category: each cancels the first example and notes
    the pick in the session, as an upload or an example button does (before, the first example could replace
    the test image the person had just chosen)."""
    import gradio as gr

    def page_test(*args):  # no model run: what matters is who notes the pick
        return {}

    monkeypatch.setattr(colourize_tab, "page_test", page_test)
    with gr.Blocks() as demo:
        tab = colourize_tab.build_colourize_tab()
        tab.show_example_on(demo.load)
    blocks = demo.blocks.values()
    index = next(b for b in blocks if isinstance(b, gr.Slider) and b.label == "Test image number")
    category = next(b for b in blocks if isinstance(b, gr.Dropdown) and b.label == "Category")
    first = next(f for f in demo.fns.values() if f.name == "page_first_example")
    for trigger in ((index._id, "release"), (index._id, "input"), (category._id, "input")):
        listeners = [f for f in demo.fns.values() if trigger in f.targets]
        assert any(first._id in f.cancels for f in listeners), f"{trigger} leaves the first example running"
        (shows,) = [f for f in listeners if f.name == "page_test"]
        own = {"picked": False}
        shows.fn(own, "cat", 3, "cnn.pt", "unet.pt", "colour_hints.pt", "mode", 0.38, False)
        assert own == {"picked": True}, f"{trigger} is not noted as the person's own pick"
