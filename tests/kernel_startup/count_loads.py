"""IPython start-up file for the real-backend notebook test: records every top-level ``from_pretrained`` call.

The test copies this into ``$IPYTHONDIR/profile_default/startup/`` of the kernels it starts. Each call that is not
made from inside another ``from_pretrained`` (a pipeline loading its components) appends one JSON line to
``$IFLEARN_LOAD_LOG``: the class, the repo id or folder, the subfolder, and the components passed as ``None``
(a pipeline loaded once for its text encoder and once for its UNet loads two different parts).
"""

import functools
import json
import os
import threading

_state = threading.local()


def _record(cls, name, kwargs):
    with open(os.environ["IFLEARN_LOAD_LOG"], "a") as log:
        skipped = sorted(k for k, v in kwargs.items() if v is None)  # components left out, e.g. text_encoder=None
        log.write(json.dumps({"class": cls.__name__, "repo": str(name), "subfolder": kwargs.get("subfolder"),
                              "without": skipped}) + "\n")


def _wrap(base):
    original = base.__dict__["from_pretrained"].__func__

    @functools.wraps(original)
    def from_pretrained(cls, name, *args, **kwargs):
        depth = getattr(_state, "depth", 0)
        _state.depth = depth + 1
        try:
            return original(cls, name, *args, **kwargs)
        finally:
            _state.depth = depth
            if depth == 0:
                _record(cls, name, kwargs)

    base.from_pretrained = classmethod(from_pretrained)


def _install():
    import diffusers
    import transformers
    from diffusers.configuration_utils import ConfigMixin
    from diffusers.schedulers.scheduling_utils import SchedulerMixin
    from transformers.image_processing_base import ImageProcessingMixin
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase

    bases = (diffusers.DiffusionPipeline, diffusers.ModelMixin, ConfigMixin, SchedulerMixin,
             transformers.PreTrainedModel, PreTrainedTokenizerBase, ImageProcessingMixin)
    for base in bases:
        if "from_pretrained" in base.__dict__:
            _wrap(base)


if os.environ.get("IFLEARN_LOAD_LOG"):
    _install()
