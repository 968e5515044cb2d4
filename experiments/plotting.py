"""Matplotlib without a display, and figures saved atomically."""
from allennlp_lstmfact.atomic import atomic_path


def pyplot():
    """`matplotlib.pyplot` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str, dpi: int) -> str:
    """
    Save `figure` as `path` (format from the extension) atomically, close it, and return `path`.

    # Parameters

    figure : `matplotlib.figure.Figure`
    path : `str`
    dpi : `int`
    """
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=dpi)
    pyplot().close(figure)
    return path
