"""The doctor where practitioners train: callbacks that put the Monitor inside PyTorch
Lightning and the Hugging Face ``Trainer``.

- :mod:`.lightning` — ``DoctorCallback``, a ``lightning.pytorch.Callback``
  (``pip install 'ravine[lightning]'``);
- :mod:`.transformers` — ``DoctorCallback``, a ``transformers.TrainerCallback``
  (``pip install 'ravine[transformers]'``);
- :mod:`.doctor` — what both share, importing neither framework.

Each framework is imported only by its own submodule, so ``import ravine.integrations`` works
without them; importing a submodule without its framework raises an ImportError that names
the extra to install.
"""

from .doctor import LOGGED, PREFIX, TrainerDoctor

__all__ = ["LOGGED", "PREFIX", "TrainerDoctor"]
