

def test_a_worker_death_names_the_missing_main_guard_of_a_script(monkeypatch):
    """Spawned workers import the script that started the campaign: unguarded, it starts one in every worker,
    and every worker dies; the failure reason says how to fix it (nasco's own command needs no hint)."""
    import sys
    import types

    from nasco.evo.search.executors import _script_hint

    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__file__="/home/me/search.py"))
    assert 'search.py: a script that starts a campaign needs it under `if __name__ == "__main__":`' in _script_hint()
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__file__="/venv/bin/nasco"))
    assert _script_hint() == ""
