"""Pictures of the tasks for the README (`xfer show`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from runstore.atomic import atomic_write  # noqa: E402

__all__ = ["save_contact_sheet"]


def save_contact_sheet(domain: str, out: Path, seed: int = 0) -> Path:
    """Draw every variant of a soup domain (same game state) or every Labyrinth level."""
    if domain == "labyrinth":
        from envs.labyrinth.show import draw_levels

        fig = draw_levels(seed=seed)
    else:
        from envs.contact_sheet import soup_frames

        frames = soup_frames(domain, steps=40 if domain == "pong_soup" else 5, seed=seed)
        fig, axes = plt.subplots(1, len(frames), figsize=(2.0 * len(frames), 2.4))
        for ax, (variant, frame) in zip(axes, frames.items(), strict=True):
            ax.imshow(frame, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(f"{domain}/{variant}", fontsize=8)
            ax.axis("off")
        fig.suptitle(f"{domain}: the agent's newest 84x84 frame, same seed and actions", fontsize=9)
        fig.tight_layout()
    atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return out
