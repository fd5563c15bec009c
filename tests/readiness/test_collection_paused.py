"""Reports build their rows with the cycle collector paused (issue 21), and leave it as they
found it, however many threads build reports at once."""

import gc
import threading

from readiness import collection_paused


def test_the_collector_is_paused_inside_and_restored_after():
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        with collection_paused():  # a report built inside another (the dashboard's shortfall)
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_it_comes_back_only_when_the_last_thread_building_a_report_is_done():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with collection_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        with collection_paused():
            second_in.set()
            first_out.wait(5)
            seen["while the other finished"] = gc.isenabled()
        seen["after both"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    first_in.wait(5)
    threads[1].start()
    for t in threads:
        t.join(5)
    assert seen == {"while the other finished": False, "after both": True}


def test_the_shortfall_report_is_built_with_the_collector_paused(session, monkeypatch):
    from inventory import shortfall as module

    states = []
    real = module._shortfall

    def watched(*args, **kwargs):
        states.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "_shortfall", watched)
    module.shortfall(session, use_cache=False)
    assert states == [False] and gc.isenabled()
