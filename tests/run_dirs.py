"""Run directories written from Python as the command line writes them."""
from nppg.algorithm import VPGConfig
from nppg.engine import EngineConfig
from nppg.engine.config import ENGINE_SETTINGS, settings
from nppg.tools.logger import RunLogger


def logger(out, cfg, **kw):
    """The command line's callback for ``nppg.train(**cfg)``: a RunLogger writing ``out``, saving only at the end."""
    config = settings(VPGConfig(**{k: v for k, v in cfg.items() if k not in ENGINE_SETTINGS}),
                      EngineConfig(**{k: v for k, v in cfg.items() if k in ENGINE_SETTINGS}))
    return RunLogger(config, out, **{"save_every": 0, "verbose": False, **kw})
