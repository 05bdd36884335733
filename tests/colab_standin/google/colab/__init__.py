"""A stand-in for Colab's ``google.colab`` package, enough for the course's setup cell and ``iflearn doctor``.

Colab's kernel imports ``google.colab`` at start-up; the Colab test does the same through an IPython start-up file.
"""

from . import output, userdata  # noqa: F401
