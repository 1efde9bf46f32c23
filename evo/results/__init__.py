"""Inspecting what a campaign found: fronts, summaries, plots, the HTML report, exported models."""

from nasco.evo.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "Front": "front", "select_front": "front", "plot_front": "plots", "write_report": "report",
    "export_candidate": "export", "load_model": "export", "check_onnx": "deploy",
})
