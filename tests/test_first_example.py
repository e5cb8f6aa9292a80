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
