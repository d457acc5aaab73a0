"""`xfer show labyrinth`: a top-down map and the agent's first view of every level."""

from __future__ import annotations

from typing import Any

__all__ = ["draw_levels"]


def draw_levels(seed: int = 0) -> Any:
    """A matplotlib figure: per level, the top view (items, start pose) and the 84x84 view."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from envs.labyrinth.levels import LEVELS, LabyrinthEnv

    fig, axes = plt.subplots(2, len(LEVELS), figsize=(2.4 * len(LEVELS), 5.2))
    for col, (name, spec) in enumerate(LEVELS.items()):
        env = LabyrinthEnv(name)
        obs, _ = env.reset(seed=seed)
        top = env.render_top_view()
        axes[0][col].imshow(top)
        axes[0][col].set_title(f"{name}\n{spec.description}", fontsize=6.5)
        axes[1][col].imshow(obs, interpolation="nearest")
        axes[1][col].set_title("first-person view (84x84)", fontsize=6.5)
        for ax in (axes[0][col], axes[1][col]):
            ax.axis("off")
        env.close()
    fig.suptitle(
        "Labyrinth levels on MiniWorld: top view with items and the start pose "
        "(red triangle), and what the agent sees",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
