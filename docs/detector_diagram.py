"""Draw docs/detector-interface.png: the detector classes and who uses them.

Run from the project root: .venv/bin/python docs/detector_diagram.py
Needs only matplotlib. Edit BOXES / ARROWS when a detector is added.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

# name: (x, y, colour); x, y: centre in a 12 x 7 canvas
BOXES = {
    "stages · batch scoring\\nserved pyfunc · ablation\\nbenchmark harness": (1.7, 5.9, "#e8eef7"),
    "registry\\nkind → class": (5.0, 5.9, "#fff4d6"),
    "Detector\\nfit · score · save/load\\nwindow · Settings": (8.6, 5.9, "#dff0d8"),
    "NetworkDetector\\n(torch, Lightning to fit)": (6.0, 3.9, "#dff0d8"),
    "WindowBaselineDetector\\n(numpy models)": (10.6, 3.9, "#dff0d8"),
    "student": (3.0, 1.8, "#ffffff"),
    "lstm_ae": (4.9, 1.8, "#ffffff"),
    "TeacherDetector\\n(profiles, paper scoring)": (7.3, 2.4, "#dff0d8"),
    "anomaly_transformer": (6.5, 0.7, "#ffffff"),
    "omnianomaly": (8.8, 0.7, "#ffffff"),
    "pca": (9.9, 1.8, "#ffffff"),
    "iforest": (11.3, 1.8, "#ffffff"),
}
ARROWS = [  # (from, to, label)
    ("stages · batch scoring\\nserved pyfunc · ablation\\nbenchmark harness", "registry\\nkind → class", "uses"),
    ("registry\\nkind → class", "Detector\\nfit · score · save/load\\nwindow · Settings", "maps to"),
    ("NetworkDetector\\n(torch, Lightning to fit)", "Detector\\nfit · score · save/load\\nwindow · Settings", ""),
    ("WindowBaselineDetector\\n(numpy models)", "Detector\\nfit · score · save/load\\nwindow · Settings", ""),
    ("student", "NetworkDetector\\n(torch, Lightning to fit)", ""),
    ("lstm_ae", "NetworkDetector\\n(torch, Lightning to fit)", ""),
    ("TeacherDetector\\n(profiles, paper scoring)", "NetworkDetector\\n(torch, Lightning to fit)", ""),
    ("anomaly_transformer", "TeacherDetector\\n(profiles, paper scoring)", ""),
    ("omnianomaly", "TeacherDetector\\n(profiles, paper scoring)", ""),
    ("pca", "WindowBaselineDetector\\n(numpy models)", ""),
    ("iforest", "WindowBaselineDetector\\n(numpy models)", ""),
]


def draw(out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(12, 7))
    ax.set_xlim(0, 12.4)
    ax.set_ylim(0, 7)
    ax.axis("off")
    widths = {}
    for name, (x, y, colour) in BOXES.items():
        text = name.replace("\\n", "\n")
        lines = text.count("\n") + 1
        w, h = max(len(line) for line in text.split("\n")) * 0.11 + 0.3, 0.3 * lines + 0.25
        widths[name] = w
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05", fc=colour, ec="#444444"))
        ax.text(x, y, text, ha="center", va="center", fontsize=9)
    for source, target, label in ARROWS:
        (x0, y0, _), (x1, y1, _) = BOXES[source], BOXES[target]
        if abs(y1 - y0) < 0.1:  # side by side: edge to edge
            start, end = (x0 + widths[source] / 2 + 0.05, y0), (x1 - widths[target] / 2 - 0.05, y1)
        else:
            start, end = (x0, y0 + 0.35), (x1, y1 - 0.35)
        ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": "#444444"})
        if label:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.15, label, ha="center", fontsize=8, color="#444444")
    ax.text(0.1, 0.1, "white: one module per kind in components/detectors/; arrows from a class point to its base class", fontsize=8, color="#666666")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(draw(Path(__file__).with_name("detector-interface.png")))
