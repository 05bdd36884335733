"""``google.colab.output``: only what a notebook might call."""


def enable_custom_widget_manager() -> None:
    """Colab needs this only for third-party widget libraries; the course's widgets are core ipywidgets."""
